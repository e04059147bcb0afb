import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  authHeaders,
  commentBody,
  commentRequest,
  previewStatus,
  previewSummary,
  statusRequest,
  type ForgeSettings,
} from '../../src/forge/index.js';
import type { PreviewView } from '../../src/reconcile/previews.js';

const sha = 'a'.repeat(40);
const link = 'https://fleetcd.example.com/#/previews/12';

function view(overrides: Partial<PreviewView> = {}): PreviewView {
  return {
    id: 12,
    ref: 'refs/pull/7/head',
    revision: sha,
    status: 'succeeded',
    error: null,
    supersededBy: null,
    requestedBy: 'webhook',
    createdAt: '2026-03-02T09:14:03.000Z',
    finishedAt: '2026-03-02T09:14:06.000Z',
    pullRequest: { provider: 'github', repository: 'acme/fleet', number: 7, url: 'https://github.com/acme/fleet/pull/7', headSha: sha },
    gates: [],
    targets: [
      {
        target: 'web',
        runId: 43,
        status: 'succeeded',
        error: null,
        changes: ['web1', 'web2', 'web3'].map((host) => ({
          host,
          task: 'Web server config',
          module: 'ansible.builtin.copy',
          diff: [{ before: 'listen 8080\nworkers 4\n', after: 'listen 8080\nworkers 8\n', before_header: '/srv/etc/web.conf', after_header: '/tmp/ansible-local-1/tmpx' }],
        })),
        existingDrift: [{ host: 'web1', task: 'Message of the day', module: 'ansible.builtin.copy', diff: [{ before: 'edited\n', after: 'managed\n', before_header: '/srv/etc/motd' }] }],
        unverified: [{ task: 'Reload web', reason: 'command without creates/removes is skipped in check mode' }],
        failures: [],
      },
    ],
    ...overrides,
  };
}

describe('forge requests: commit statuses and comments per forge', () => {
  const repository = 'acme/fleet';
  const status = { state: 'success' as const, description: 'web: 3 hosts would change, 1 unverified task', targetUrl: link };

  it('GitHub: POST {url}/repos/o/r/statuses/{sha} with context, Bearer token and its media type', () => {
    const github: ForgeSettings = { type: 'github', url: 'https://api.github.com/' };
    assert.deepEqual(statusRequest(github, repository, sha, status), {
      url: `https://api.github.com/repos/acme/fleet/statuses/${sha}`,
      body: { state: 'success', target_url: link, description: status.description, context: 'fleetcd/preview' },
    });
    assert.equal(statusRequest(github, repository, sha, { ...status, state: 'cancelled' }).body.state, 'error');
    assert.equal(statusRequest(github, repository, sha, { ...status, state: 'running' }).body.state, 'pending');
    assert.deepEqual(commentRequest(github, repository, 7, 'plan'), { url: 'https://api.github.com/repos/acme/fleet/issues/7/comments', body: { body: 'plan' } });
    assert.deepEqual(authHeaders('github', 't0ken'), { authorization: 'Bearer t0ken', accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' });
  });

  it('GitLab: POST {url}/api/v4/projects/{id}/statuses/{sha} with name, failed/canceled/running, PRIVATE-TOKEN', () => {
    const gitlab: ForgeSettings = { type: 'gitlab', url: 'https://gitlab.example.com' };
    assert.deepEqual(statusRequest(gitlab, '42', sha, { ...status, state: 'failure' }), {
      url: `https://gitlab.example.com/api/v4/projects/42/statuses/${sha}`,
      body: { state: 'failed', target_url: link, description: status.description, name: 'fleetcd/preview' },
    });
    assert.equal(statusRequest(gitlab, '42', sha, { ...status, state: 'cancelled' }).body.state, 'canceled');
    assert.equal(statusRequest(gitlab, '42', sha, { ...status, state: 'running' }).body.state, 'running');
    assert.equal(commentRequest(gitlab, '42', 11, 'plan').url, 'https://gitlab.example.com/api/v4/projects/42/merge_requests/11/notes');
    assert.deepEqual(authHeaders('gitlab', 't0ken'), { 'private-token': 't0ken', accept: 'application/json' });
  });

  it('Gitea: POST {url}/api/v1/repos/o/r/statuses/{sha} with context, warning for superseded, `token` auth', () => {
    const gitea: ForgeSettings = { type: 'gitea', url: 'https://gitea.example.com' };
    assert.deepEqual(statusRequest(gitea, repository, sha, { ...status, state: 'cancelled', description: `superseded by ${'b'.repeat(40)}` }), {
      url: `https://gitea.example.com/api/v1/repos/acme/fleet/statuses/${sha}`,
      body: { state: 'warning', target_url: link, description: `superseded by ${'b'.repeat(40)}`, context: 'fleetcd/preview' },
    });
    assert.equal(commentRequest(gitea, repository, 12, 'plan').url, 'https://gitea.example.com/api/v1/repos/acme/fleet/issues/12/comments');
    assert.deepEqual(authHeaders('gitea', 't0ken'), { authorization: 'token t0ken', accept: 'application/json' });
  });

  it('keeps the description to one line of at most 140 characters', () => {
    const long = statusRequest({ type: 'github', url: 'https://api.github.com' }, repository, sha, { ...status, description: `a\nb ${'x'.repeat(300)}` });
    const description = long.body.description as string;
    assert.equal(description.length, 140);
    assert.ok(description.startsWith('a b xxx') && description.endsWith('…'));
  });
});

describe('the one-line summary and the commit state of a preview', () => {
  it('counts hosts that would change, the drift already there and unverified tasks, per target', () => {
    assert.equal(previewSummary(view()), 'web: 3 hosts would change, 1 host drifted already, 1 unverified task');
    const quiet = view({ targets: [{ ...view().targets[0]!, changes: [], existingDrift: [], unverified: [] }] });
    assert.equal(previewSummary(quiet), 'web: no changes');
  });

  it('is success when the preview ran cleanly, whatever it would change: the plan is information, not a verdict', () => {
    assert.deepEqual(previewStatus(view()), { state: 'success', description: 'web: 3 hosts would change, 1 host drifted already, 1 unverified task' });
    assert.equal(previewStatus(view({ status: 'queued', revision: null })).state, 'pending');
    assert.deepEqual(previewStatus(view({ status: 'running' })), { state: 'running', description: 'fleetcd is checking aaaaaaaaaaaa against the fleet' });
  });

  it('is failure when a check failed, a gate failed or the preview was refused, and says so first', () => {
    const failing = view({
      status: 'failed',
      error: 'web: the check failed',
      targets: [{ ...view().targets[0]!, status: 'failed', changes: [], failures: [{ host: 'web1', task: 'boom', message: 'no' }, { host: 'web2', task: 'boom', message: 'no' }] }],
    });
    assert.deepEqual(previewStatus(failing), { state: 'failure', description: 'web: the check failed on 2 hosts' });
    const gate = view({
      status: 'failed',
      error: 'gate lint failed',
      gates: [{ gate: 'lint', command: ['ansible-lint'], ok: false, exitCode: 2, output: 'E301', ranAt: '2026-03-02T09:14:04Z' }],
    });
    assert.match(previewStatus(gate).description, /^gate lint failed \(exit 2\); web: 3 hosts would change/);
    const refused = view({ status: 'failed', revision: null, targets: [], error: 'refused: the head is in a fork (mallory/fleet)' });
    assert.deepEqual(previewStatus(refused), { state: 'failure', description: 'refused: the head is in a fork (mallory/fleet)' });
  });

  it('is cancelled, "superseded by <sha>", when a newer push replaced it', () => {
    const newer = 'b'.repeat(40);
    assert.deepEqual(previewStatus(view({ status: 'cancelled', supersededBy: newer, error: `superseded by ${newer}` })), {
      state: 'cancelled',
      description: `superseded by ${newer}`,
    });
  });
});

describe('the pull-request comment', () => {
  it('holds the summary, a link, per target the changes as fenced unified diffs, the drift apart, unverified tasks', () => {
    const body = commentBody(view(), link);
    assert.match(body, /^### fleetcd preview #12: succeeded\n/);
    assert.ok(body.includes(`\`refs/pull/7/head\` at \`aaaaaaaaaaaa\`: web: 3 hosts would change, 1 host drifted already, 1 unverified task · [open the preview](${link})`), body);
    assert.ok(body.includes('#### `web`: check run #43 succeeded'));
    assert.ok(body.includes('**Would change** (3)\n\n- `web1` · `Web server config` (`ansible.builtin.copy`)\n\n```diff\n--- /srv/etc/web.conf\n+++ /srv/etc/web.conf\n@@ -1,2 +1,2 @@\n listen 8080\n-workers 4\n+workers 8\n```\n'), body);
    assert.ok(body.includes('<details><summary>Drifted already, at the revision in use (1)</summary>'));
    assert.ok(body.indexOf('Message of the day') > body.indexOf('<details>'), 'the existing drift is apart, folded');
    assert.ok(body.includes('**Unverified in check mode** (1)\n\n- `Reload web`: command without creates/removes is skipped in check mode\n'));
  });

  it('lists failures, and shows names and messages as code: no markup, no mentions', () => {
    const failing = view({
      status: 'failed',
      targets: [{ ...view().targets[0]!, status: 'failed', changes: [], existingDrift: [], unverified: [], failures: [{ host: 'web1', task: 'ping @ops <b>', message: 'line one\nline `two`' }] }],
    });
    const body = commentBody(failing, link);
    assert.ok(body.includes('**Failed** (1)\n\n- `web1` · `ping @ops <b>`: `` line one line `two` ``\n'), body);
    assert.ok(!body.includes('Nothing would change'), 'a failed check says nothing of changes');
  });

  it('stays under the limit: diffs are cut with a note, and the rest of the plan is left out whole, never half a fence', () => {
    const big = 'x'.repeat(80);
    const changes = Array.from({ length: 40 }, (_, i) => ({
      host: `web${i}`,
      task: 'Big file',
      module: 'ansible.builtin.copy',
      diff: [{ before: '', after: Array.from({ length: 400 }, (_, n) => `${n} ${big}`).join('\n'), before_header: '/srv/big' }],
    }));
    const body = commentBody(view({ targets: [{ ...view().targets[0]!, changes }] }), link);
    assert.ok(body.length <= 60_000, `${body.length}`);
    assert.match(body, /_\d+ more lines cut to stay under the forge's comment size limit\._/);
    assert.match(body, /lines left out to stay under the forge's comment size limit/);
    assert.equal((body.match(/^```/gm) ?? []).length % 2, 0, 'every fence is closed');
    assert.ok(body.includes('`web39`'), 'every change is still listed');

    const small = commentBody(view({ targets: [{ ...view().targets[0]!, changes }] }), link, 3_000);
    assert.ok(small.length <= 3_000, `${small.length}`);
    assert.match(small, /more parts of the plan left out to stay under the forge's comment size limit: \[the whole plan\]\(https:/);
  });

  it('fences a diff holding backticks with a longer fence', () => {
    const withTicks = view({ targets: [{ ...view().targets[0]!, changes: [{ host: 'w', task: 't', module: null, diff: [{ before: 'a\n', after: '```\n', before_header: 'f' }] }], existingDrift: [], unverified: [] }] });
    assert.match(commentBody(withTicks, link), /\n````diff\n--- f\n\+\+\+ after\n@@ -1,1 \+1,1 @@\n-a\n\+```\n````\n/);
  });
});
