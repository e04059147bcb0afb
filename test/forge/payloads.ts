/**
 * Pull-request deliveries shaped like the forges' real ones (GitHub's `pull_request`, GitLab's `Merge Request
 * Hook`, Gitea's `pull_request`), trimmed of nothing the parser could trip on: nested users, labels, both
 * repositories, timestamps and the fields fleetcd does not read are all there.
 */

const user = (login: string, id: number) => ({
  login,
  id,
  node_id: `U_kgDO${id}`,
  avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
  html_url: `https://github.com/${login}`,
  type: 'User',
  site_admin: false,
});

function githubRepo(fullName: string, id: number, fork: boolean) {
  const [owner, name] = fullName.split('/') as [string, string];
  return {
    id,
    node_id: `R_kgDO${id}`,
    name,
    full_name: fullName,
    private: true,
    owner: user(owner, id + 1000),
    html_url: `https://github.com/${fullName}`,
    fork,
    url: `https://api.github.com/repos/${fullName}`,
    clone_url: `https://github.com/${fullName}.git`,
    ssh_url: `git@github.com:${fullName}.git`,
    default_branch: 'main',
    visibility: 'private',
    pushed_at: '2026-03-02T09:13:58Z',
  };
}

export type PrInput = {
  action: string;
  number: number;
  headSha: string;
  headRef?: string;
  /** owner/name of the base repository. */
  base?: string;
  /** owner/name of the head's repository: the base unless it is a fork; null: a deleted fork. */
  head?: string | null;
  before?: string;
};

export function githubPullRequest(input: PrInput) {
  const base = input.base ?? 'acme/fleet';
  const head = input.head === undefined ? base : input.head;
  const baseRepo = githubRepo(base, 100, false);
  const headRepo = head === null ? null : head === base ? baseRepo : githubRepo(head, 200, true);
  const headRef = input.headRef ?? 'feature/x';
  return {
    action: input.action,
    number: input.number,
    pull_request: {
      url: `https://api.github.com/repos/${base}/pulls/${input.number}`,
      id: 1789000 + input.number,
      node_id: 'PR_kwDOAbCdEf5qWx1Y',
      html_url: `https://github.com/${base}/pull/${input.number}`,
      diff_url: `https://github.com/${base}/pull/${input.number}.diff`,
      number: input.number,
      state: 'open',
      locked: false,
      title: 'More web workers',
      user: user('alice', 5),
      body: 'Raise the workers; see @bob',
      created_at: '2026-03-02T09:14:00Z',
      updated_at: '2026-03-02T09:14:03Z',
      closed_at: null,
      merged_at: null,
      merge_commit_sha: null,
      assignees: [],
      requested_reviewers: [],
      labels: [{ id: 1, name: 'ops', color: 'ededed', default: false }],
      draft: false,
      head: { label: `${(head ?? 'ghost/fleet').split('/')[0]}:${headRef}`, ref: headRef, sha: input.headSha, user: user('alice', 5), repo: headRepo },
      base: { label: `${base.split('/')[0]}:main`, ref: 'main', sha: 'b'.repeat(40), user: user(base.split('/')[0]!, 1100), repo: baseRepo },
      author_association: 'MEMBER',
      merged: false,
      mergeable: null,
      comments: 0,
      commits: 1,
      additions: 2,
      deletions: 1,
      changed_files: 1,
    },
    ...(input.action === 'synchronize' ? { before: input.before ?? 'c'.repeat(40), after: input.headSha } : {}),
    repository: baseRepo,
    organization: { login: base.split('/')[0], id: 1100 },
    sender: user('alice', 5),
  };
}

export type MrInput = {
  action: string;
  iid: number;
  headSha: string;
  sourceBranch?: string;
  projectId?: number;
  sourceProjectId?: number;
  path?: string;
  sourcePath?: string;
  oldrev?: string;
};

function gitlabProject(id: number, path: string) {
  return {
    id,
    name: path.split('/').at(-1),
    description: 'The fleet',
    web_url: `https://gitlab.example.com/${path}`,
    avatar_url: null,
    git_ssh_url: `git@gitlab.example.com:${path}.git`,
    git_http_url: `https://gitlab.example.com/${path}.git`,
    namespace: path.split('/').slice(0, -1).join('/'),
    visibility_level: 0,
    path_with_namespace: path,
    default_branch: 'main',
    ci_config_path: '',
    homepage: `https://gitlab.example.com/${path}`,
    url: `git@gitlab.example.com:${path}.git`,
    ssh_url: `git@gitlab.example.com:${path}.git`,
    http_url: `https://gitlab.example.com/${path}.git`,
  };
}

export function gitlabMergeRequest(input: MrInput) {
  const projectId = input.projectId ?? 42;
  const sourceProjectId = input.sourceProjectId ?? projectId;
  const path = input.path ?? 'ops/fleet';
  const project = gitlabProject(projectId, path);
  const source = sourceProjectId === projectId ? project : gitlabProject(sourceProjectId, input.sourcePath ?? 'mallory/fleet');
  const url = `https://gitlab.example.com/${path}/-/merge_requests/${input.iid}`;
  return {
    object_kind: 'merge_request',
    event_type: 'merge_request',
    user: { id: 1, name: 'Alice', username: 'alice', avatar_url: 'https://gitlab.example.com/uploads/a.png', email: '[REDACTED]' },
    project,
    object_attributes: {
      assignee_id: null,
      author_id: 1,
      created_at: '2026-03-02 09:14:00 UTC',
      description: 'Raise the workers',
      head_pipeline_id: null,
      id: 99000 + input.iid,
      iid: input.iid,
      last_edited_at: null,
      last_edited_by_id: null,
      merge_commit_sha: null,
      merge_error: null,
      merge_params: { force_remove_source_branch: '1' },
      merge_status: 'unchecked',
      merge_user_id: null,
      merge_when_pipeline_succeeds: false,
      milestone_id: null,
      source_branch: input.sourceBranch ?? 'feature/x',
      source_project_id: sourceProjectId,
      state_id: 1,
      target_branch: 'main',
      target_project_id: projectId,
      time_estimate: 0,
      title: 'More web workers',
      updated_at: '2026-03-02 09:14:03 UTC',
      updated_by_id: null,
      url,
      source,
      target: project,
      last_commit: {
        id: input.headSha,
        message: 'More web workers\n',
        title: 'More web workers',
        timestamp: '2026-03-02T09:13:58+00:00',
        url: `https://gitlab.example.com/${path}/-/commit/${input.headSha}`,
        author: { name: 'Alice', email: 'alice@example.com' },
      },
      work_in_progress: false,
      draft: false,
      total_time_spent: 0,
      time_change: 0,
      human_total_time_spent: null,
      human_time_change: null,
      human_time_estimate: null,
      assignee_ids: [],
      reviewer_ids: [],
      labels: [],
      state: input.action === 'close' ? 'closed' : 'opened',
      blocking_discussions_resolved: true,
      first_contribution: false,
      detailed_merge_status: 'checking',
      action: input.action,
      ...(input.oldrev ? { oldrev: input.oldrev } : {}),
    },
    labels: [],
    changes: input.oldrev ? { updated_at: { previous: '2026-03-02 09:14:00 UTC', current: '2026-03-02 09:14:03 UTC' } } : {},
    repository: { name: 'fleet', url: project.git_ssh_url, description: 'The fleet', homepage: project.web_url },
    assignees: [],
    reviewers: [],
  };
}

function giteaRepo(fullName: string, id: number, fork: boolean) {
  const [owner, name] = fullName.split('/') as [string, string];
  return {
    id,
    owner: { id: id + 1000, login: owner, full_name: '', email: '', avatar_url: '', username: owner },
    name,
    full_name: fullName,
    description: '',
    empty: false,
    private: true,
    fork,
    template: false,
    parent: null,
    mirror: false,
    size: 120,
    html_url: `https://gitea.example.com/${fullName}`,
    ssh_url: `git@gitea.example.com:${fullName}.git`,
    clone_url: `https://gitea.example.com/${fullName}.git`,
    default_branch: 'main',
    created_at: '2026-01-10T08:00:00Z',
    updated_at: '2026-03-02T09:13:58Z',
  };
}

export function giteaPullRequest(input: PrInput) {
  const base = input.base ?? 'acme/fleet';
  const head = input.head === undefined ? base : input.head;
  const baseRepo = giteaRepo(base, 3, false);
  const headRepo = head === null ? null : head === base ? baseRepo : giteaRepo(head, 9, true);
  const headRef = input.headRef ?? 'feature/x';
  const url = `https://gitea.example.com/${base}/pulls/${input.number}`;
  return {
    action: input.action,
    number: input.number,
    pull_request: {
      id: 300 + input.number,
      url,
      number: input.number,
      user: { id: 5, login: 'alice', username: 'alice' },
      title: 'More web workers',
      body: '',
      labels: [],
      milestone: null,
      assignee: null,
      assignees: null,
      state: 'open',
      is_locked: false,
      comments: 0,
      html_url: url,
      diff_url: `${url}.diff`,
      patch_url: `${url}.patch`,
      mergeable: true,
      merged: false,
      merged_at: null,
      merge_commit_sha: null,
      merged_by: null,
      allow_maintainer_edit: false,
      base: { label: 'main', ref: 'main', sha: 'b'.repeat(40), repo_id: baseRepo.id, repo: baseRepo },
      head: { label: headRef, ref: headRef, sha: input.headSha, repo_id: headRepo?.id ?? 0, repo: headRepo },
      merge_base: 'b'.repeat(40),
      due_date: null,
      created_at: '2026-03-02T09:14:00Z',
      updated_at: '2026-03-02T09:14:03Z',
      closed_at: null,
    },
    requested_reviewer: null,
    repository: baseRepo,
    sender: { id: 5, login: 'alice', username: 'alice' },
    commit_id: '',
    review: null,
  };
}
