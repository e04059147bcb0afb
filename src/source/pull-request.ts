import { webhookEvent, webhookPayload, type WebhookProvider } from './webhook.js';

type Headers = Record<string, string | string[] | undefined>;
type Fields = Record<string, unknown>;

/** The forge families whose pull requests fleetcd previews (Forgejo speaks Gitea's API). */
export type ForgeFamily = 'github' | 'gitlab' | 'gitea';

/** Which request, and its head: what a preview records of it (the store's PullRequest has this shape). */
export type PullRequestRef = { provider: string; repository: string; number: number; url: string | null; headSha: string };

/** One pull (merge) request delivery, as far as previews care. */
export type PullRequestEvent = {
  provider: WebhookProvider;
  event: string;
  /** opened, synchronize, reopened (GitHub); open, update, reopen (GitLab); opened, synchronized, reopened (Gitea). */
  action: string;
  pullRequest: PullRequestRef;
  /** The ref the forge keeps for the head in the base repository: refs/pull/<n>/head, refs/merge-requests/<iid>/head. */
  ref: string;
  headBranch: string | null;
  /** owner/name (GitLab: the path with namespace) of the repository the request is made to. */
  baseRepository: string;
  /** The same of the repository the head lives in; null when the forge no longer knows it (a deleted fork). */
  headRepository: string | null;
  /** The head lives somewhere else than the base repository (or nowhere the forge knows). */
  fork: boolean;
  /** GitLab's `update` carries `oldrev` only when commits were pushed; other updates (title, labels) do not. */
  newCommits: boolean;
};

const previewedActions: Record<ForgeFamily, readonly string[]> = {
  github: ['opened', 'synchronize', 'reopened'],
  gitlab: ['open', 'update', 'reopen'],
  gitea: ['opened', 'synchronized', 'reopened'],
};

/** The family whose payloads and API a provider speaks; Gogs has no pull-request refs. */
export function forgeFamily(provider: string): ForgeFamily | undefined {
  if (provider === 'github' || provider === 'gitlab') return provider;
  if (provider === 'gitea' || provider === 'forgejo') return 'gitea';
  return undefined;
}

/** A delivery about a pull or merge request: GitHub's and Gitea's `pull_request`, GitLab's `Merge Request Hook`. */
export function isPullRequestDelivery(headers: Headers): boolean {
  const event = webhookEvent(headers)?.toLowerCase();
  return event === 'pull_request' || event === 'merge request hook';
}

/**
 * Reads a pull-request delivery of GitHub, GitLab or Gitea/Forgejo. Throws an Error naming the missing or
 * malformed field, so the route answers 400 rather than guessing.
 */
export function parsePullRequest(provider: WebhookProvider, headers: Headers, body: Buffer): PullRequestEvent {
  const family = forgeFamily(provider);
  if (!family) throw new Error(`pull requests from ${provider} are not supported`);
  const payload = webhookPayload(headers, body);
  const event = webhookEvent(headers) ?? 'pull_request';
  return family === 'gitlab' ? fromGitLab(provider, event, payload) : fromGitHubLike(provider, family, event, payload);
}

/** GitHub and Gitea share the shape: `pull_request.{number, html_url, head, base}` with `repo.full_name`. */
function fromGitHubLike(provider: WebhookProvider, family: ForgeFamily, event: string, payload: Fields): PullRequestEvent {
  const pr = object(payload, 'pull_request');
  const number = integer(pr, 'number', 'pull_request.number');
  const head = object(pr, 'head', 'pull_request.head');
  const base = object(pr, 'base', 'pull_request.base');
  const headRepo = optionalObject(head.repo);
  const baseRepo = optionalObject(base.repo) ?? optionalObject(payload.repository);
  const baseRepository = text(baseRepo ?? {}, 'full_name', 'pull_request.base.repo.full_name');
  const headRepository = headRepo && typeof headRepo.full_name === 'string' ? headRepo.full_name : null;
  const headId = family === 'gitea' ? (head.repo_id ?? headRepo?.id) : headRepo?.id;
  const baseId = family === 'gitea' ? (base.repo_id ?? baseRepo?.id) : baseRepo?.id;
  const fork =
    headRepository === null ||
    (typeof headId === 'number' && typeof baseId === 'number' ? headId !== baseId : headRepository.toLowerCase() !== baseRepository.toLowerCase());
  const headSha = sha(head, 'sha', 'pull_request.head.sha');
  return {
    provider,
    event,
    action: text(payload, 'action'),
    pullRequest: { provider, repository: baseRepository, number, url: typeof pr.html_url === 'string' ? pr.html_url : null, headSha },
    ref: `refs/pull/${number}/head`,
    headBranch: typeof head.ref === 'string' ? head.ref : null,
    baseRepository,
    headRepository,
    fork,
    newCommits: true,
  };
}

/** GitLab: `object_attributes.{iid, last_commit.id, source_project_id, target_project_id, url, action}`. */
function fromGitLab(provider: WebhookProvider, event: string, payload: Fields): PullRequestEvent {
  const mr = object(payload, 'object_attributes');
  const iid = integer(mr, 'iid', 'object_attributes.iid');
  const target = integer(mr, 'target_project_id', 'object_attributes.target_project_id');
  const source = typeof mr.source_project_id === 'number' ? mr.source_project_id : null;
  const project = optionalObject(payload.project) ?? optionalObject(mr.target) ?? {};
  const baseRepository = typeof project.path_with_namespace === 'string' ? project.path_with_namespace : `project ${target}`;
  const sourceProject = optionalObject(mr.source);
  const headRepository =
    source === null ? null : typeof sourceProject?.path_with_namespace === 'string' ? sourceProject.path_with_namespace : `project ${source}`;
  const headSha = sha(object(mr, 'last_commit', 'object_attributes.last_commit'), 'id', 'object_attributes.last_commit.id');
  const action = text(mr, 'action', 'object_attributes.action');
  return {
    provider,
    event,
    action,
    pullRequest: { provider, repository: String(target), number: iid, url: typeof mr.url === 'string' ? mr.url : null, headSha },
    ref: `refs/merge-requests/${iid}/head`,
    headBranch: typeof mr.source_branch === 'string' ? mr.source_branch : null,
    baseRepository,
    headRepository,
    fork: source !== target,
    newCommits: action !== 'update' || typeof mr.oldrev === 'string',
  };
}

export type PullRequestDecision =
  | { action: 'preview' }
  | { action: 'refuse'; reason: string }
  | { action: 'ignore'; reason: string };

/**
 * What a pull-request delivery does: a preview of its head when it opened, got new commits or reopened;
 * nothing for other actions or for another repository's requests (an organisation-wide hook); a refusal when
 * the head is in a fork, whose code must never run with the fleet's secrets.
 */
export function pullRequestDecision(event: PullRequestEvent, watched: { url: string }): PullRequestDecision {
  const family = forgeFamily(event.provider)!;
  const what = family === 'gitlab' ? 'merge request' : 'pull request';
  if (!previewedActions[family].includes(event.action)) return { action: 'ignore', reason: `${what} action ${event.action} is not previewed` };
  if (!event.newCommits) return { action: 'ignore', reason: `${what} update without new commits` };
  const watchedPath = repositoryPath(watched.url);
  if (watchedPath !== undefined && !sameRepository(watchedPath, event.baseRepository)) {
    return { action: 'ignore', reason: `${what} of ${event.baseRepository}; the watched repository is ${watchedPath}` };
  }
  if (event.fork) {
    const head = event.headRepository ?? 'a repository the forge no longer knows';
    return {
      action: 'refuse',
      reason: `refused: the head is in a fork (${head}), not in ${event.baseRepository}; previews run only for branches of the watched repository`,
    };
  }
  return { action: 'preview' };
}

/**
 * The `owner/name` path of a remote URL (`https://host/owner/name.git`, `ssh://git@host/owner/name`,
 * `git@host:owner/name.git`); undefined for a local path or file:// URL, which names no forge repository.
 */
export function repositoryPath(url: string): string | undefined {
  let path: string | undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    if (/^file:/i.test(url)) return undefined;
    try {
      path = new URL(url).pathname;
    } catch {
      return undefined;
    }
  } else {
    path = /^[^/@:]+@[^/:]+:(.+)$/.exec(url)?.[1] ?? /^[^/:]+:(?!\/)(.+)$/.exec(url)?.[1];
  }
  if (path === undefined) return undefined;
  const cleaned = decodeURIComponent(path).replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  return cleaned.includes('/') ? cleaned : undefined;
}

/** The watched path names this repository (it may carry a prefix: a GitLab under /gitlab/). */
function sameRepository(watchedPath: string, fullName: string): boolean {
  const a = watchedPath.toLowerCase();
  const b = fullName.toLowerCase();
  return a === b || a.endsWith(`/${b}`);
}

function object(fields: Fields, key: string, path = key): Fields {
  const value = optionalObject(fields[key]);
  if (!value) throw new Error(`${path}: expected an object`);
  return value;
}

function optionalObject(value: unknown): Fields | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : undefined;
}

function integer(fields: Fields, key: string, path: string): number {
  const value = fields[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw new Error(`${path}: expected a positive integer`);
  return value;
}

function text(fields: Fields, key: string, path = key): string {
  const value = fields[key];
  if (typeof value !== 'string' || value === '') throw new Error(`${path}: expected a string`);
  return value;
}

function sha(fields: Fields, key: string, path: string): string {
  const value = fields[key];
  if (typeof value !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(value)) throw new Error(`${path}: expected a full commit sha`);
  return value;
}
