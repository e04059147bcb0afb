import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPullRequestDelivery, parsePullRequest, pullRequestDecision, repositoryPath } from '../../src/source/index.js';
import { giteaPullRequest, githubPullRequest, gitlabMergeRequest } from '../forge/payloads.js';

const head = 'a'.repeat(40);
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const watched = { url: 'git@github.com:acme/fleet.git' };

describe('pull-request deliveries', () => {
  it('reads a GitHub pull_request: number, head sha, refs/pull/<n>/head, the base repository and its link', () => {
    const headers = { 'x-github-event': 'pull_request', 'content-type': 'application/json' };
    assert.equal(isPullRequestDelivery(headers), true);
    const event = parsePullRequest('github', headers, json(githubPullRequest({ action: 'synchronize', number: 7, headSha: head })));
    assert.deepEqual(event, {
      provider: 'github',
      event: 'pull_request',
      action: 'synchronize',
      pullRequest: { provider: 'github', repository: 'acme/fleet', number: 7, url: 'https://github.com/acme/fleet/pull/7', headSha: head },
      ref: 'refs/pull/7/head',
      headBranch: 'feature/x',
      baseRepository: 'acme/fleet',
      headRepository: 'acme/fleet',
      fork: false,
      newCommits: true,
    });
    assert.deepEqual(pullRequestDecision(event, watched), { action: 'preview' });
  });

  it('reads GitHub’s form-encoded delivery the same way', () => {
    const form = Buffer.from(`payload=${encodeURIComponent(JSON.stringify(githubPullRequest({ action: 'opened', number: 3, headSha: head })))}`);
    const event = parsePullRequest('github', { 'x-github-event': 'pull_request', 'content-type': 'application/x-www-form-urlencoded' }, form);
    assert.equal(event.ref, 'refs/pull/3/head');
  });

  it('reads a GitLab Merge Request Hook: iid, last commit, refs/merge-requests/<iid>/head, the project id for the API', () => {
    const headers = { 'x-gitlab-event': 'Merge Request Hook' };
    assert.equal(isPullRequestDelivery(headers), true);
    const event = parsePullRequest('gitlab', headers, json(gitlabMergeRequest({ action: 'update', iid: 11, headSha: head, oldrev: 'c'.repeat(40) })));
    assert.deepEqual(event.pullRequest, {
      provider: 'gitlab',
      repository: '42',
      number: 11,
      url: 'https://gitlab.example.com/ops/fleet/-/merge_requests/11',
      headSha: head,
    });
    assert.equal(event.ref, 'refs/merge-requests/11/head');
    assert.equal(event.baseRepository, 'ops/fleet');
    assert.equal(event.fork, false);
    assert.deepEqual(pullRequestDecision(event, { url: 'https://gitlab.example.com/ops/fleet.git' }), { action: 'preview' });
  });

  it('reads a Gitea/Forgejo pull_request with action synchronized', () => {
    const payload = json(giteaPullRequest({ action: 'synchronized', number: 12, headSha: head }));
    for (const [provider, header] of [['gitea', 'x-gitea-event'], ['forgejo', 'x-forgejo-event']] as const) {
      const event = parsePullRequest(provider, { [header]: 'pull_request' }, payload);
      assert.deepEqual(event.pullRequest, { provider, repository: 'acme/fleet', number: 12, url: 'https://gitea.example.com/acme/fleet/pulls/12', headSha: head });
      assert.equal(event.ref, 'refs/pull/12/head');
      assert.deepEqual(pullRequestDecision(event, { url: 'https://gitea.example.com/acme/fleet.git' }), { action: 'preview' });
    }
  });

  it('previews opened, new commits and reopened; acknowledges closed, edited and label changes', () => {
    const decide = (action: string, family: 'github' | 'gitlab' | 'gitea', extra: Record<string, string> = {}) => {
      if (family === 'gitlab') {
        const event = parsePullRequest('gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, json(gitlabMergeRequest({ action, iid: 1, headSha: head, ...extra })));
        return pullRequestDecision(event, { url: '/srv/fleet.git' });
      }
      const payload = family === 'github' ? githubPullRequest({ action, number: 1, headSha: head }) : giteaPullRequest({ action, number: 1, headSha: head });
      return pullRequestDecision(parsePullRequest(family, {}, json(payload)), { url: '/srv/fleet.git' });
    };
    for (const action of ['opened', 'synchronize', 'reopened']) assert.equal(decide(action, 'github').action, 'preview', action);
    for (const action of ['opened', 'synchronized', 'reopened']) assert.equal(decide(action, 'gitea').action, 'preview', action);
    for (const action of ['open', 'reopen']) assert.equal(decide(action, 'gitlab').action, 'preview', action);
    assert.equal(decide('update', 'gitlab', { oldrev: 'c'.repeat(40) }).action, 'preview');
    assert.deepEqual(decide('update', 'gitlab'), { action: 'ignore', reason: 'merge request update without new commits' });
    assert.deepEqual(decide('closed', 'github'), { action: 'ignore', reason: 'pull request action closed is not previewed' });
    assert.deepEqual(decide('labeled', 'github'), { action: 'ignore', reason: 'pull request action labeled is not previewed' });
    assert.deepEqual(decide('merge', 'gitlab'), { action: 'ignore', reason: 'merge request action merge is not previewed' });
    assert.equal(decide('closed', 'gitea').action, 'ignore');
  });

  it('refuses a head in a fork, or in a fork since deleted, saying why', () => {
    const fork = parsePullRequest('github', {}, json(githubPullRequest({ action: 'opened', number: 9, headSha: head, head: 'mallory/fleet' })));
    assert.equal(fork.fork, true);
    assert.deepEqual(pullRequestDecision(fork, watched), {
      action: 'refuse',
      reason: 'refused: the head is in a fork (mallory/fleet), not in acme/fleet; previews run only for branches of the watched repository',
    });
    const gone = parsePullRequest('github', {}, json(githubPullRequest({ action: 'reopened', number: 9, headSha: head, head: null })));
    assert.match((pullRequestDecision(gone, watched) as { reason: string }).reason, /in a fork \(a repository the forge no longer knows\)/);
    const gitea = parsePullRequest('gitea', {}, json(giteaPullRequest({ action: 'opened', number: 9, headSha: head, head: 'mallory/fleet' })));
    assert.equal(pullRequestDecision(gitea, watched).action, 'refuse');
    const gitlab = parsePullRequest('gitlab', {}, json(gitlabMergeRequest({ action: 'open', iid: 9, headSha: head, sourceProjectId: 77 })));
    assert.equal(gitlab.headRepository, 'mallory/fleet');
    assert.match((pullRequestDecision(gitlab, { url: '/srv/fleet.git' }) as { reason: string }).reason, /fork \(mallory\/fleet\), not in ops\/fleet/);
  });

  it('compares the repositories by id, so a renamed base repository is not taken for a fork', () => {
    const payload = githubPullRequest({ action: 'opened', number: 2, headSha: head });
    payload.pull_request.head.repo = { ...payload.pull_request.base.repo, full_name: 'acme/old-name' };
    assert.equal(parsePullRequest('github', {}, json(payload)).fork, false);
  });

  it("ignores another repository's request (an organisation-wide hook), when the watched URL names a repository", () => {
    const event = parsePullRequest('github', {}, json(githubPullRequest({ action: 'opened', number: 2, headSha: head, base: 'acme/website' })));
    assert.deepEqual(pullRequestDecision(event, watched), { action: 'ignore', reason: 'pull request of acme/website; the watched repository is acme/fleet' });
    assert.equal(pullRequestDecision(event, { url: 'file:///srv/fleet.git' }).action, 'preview', 'a local URL names no forge repository');
  });

  it('names the field a malformed delivery lacks', () => {
    const broken = githubPullRequest({ action: 'opened', number: 2, headSha: head }) as Record<string, unknown>;
    assert.throws(() => parsePullRequest('github', {}, json({ ...broken, pull_request: undefined })), /^Error: pull_request: expected an object$/);
    const short = githubPullRequest({ action: 'opened', number: 2, headSha: 'abc' });
    assert.throws(() => parsePullRequest('github', {}, json(short)), /pull_request\.head\.sha: expected a full commit sha/);
    assert.throws(() => parsePullRequest('gitlab', {}, json({ object_kind: 'merge_request' })), /object_attributes: expected an object/);
    assert.throws(() => parsePullRequest('gitea', {}, Buffer.from('not json')), /the body is not JSON/);
    assert.throws(() => parsePullRequest('gogs', {}, json({})), /pull requests from gogs are not supported/);
  });

  it('finds owner/name in https, ssh and scp-like URLs, and nothing in local paths', () => {
    assert.equal(repositoryPath('https://github.com/acme/fleet.git'), 'acme/fleet');
    assert.equal(repositoryPath('ssh://git@gitlab.example.com:2222/ops/infra/fleet.git'), 'ops/infra/fleet');
    assert.equal(repositoryPath('git@github.com:acme/fleet.git'), 'acme/fleet');
    assert.equal(repositoryPath('https://token@gitea.example.com/acme/fleet/'), 'acme/fleet');
    assert.equal(repositoryPath('/srv/git/fleet.git'), undefined);
    assert.equal(repositoryPath('file:///srv/git/acme/fleet.git'), undefined);
    assert.equal(repositoryPath('../fleet'), undefined);
  });
});
