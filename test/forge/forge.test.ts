import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { PreviewView } from '../../src/reconcile/previews.js';
import type { RunDetail, StatusView } from '../../src/api/schemas.js';
import { freePort, getJson, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { git } from '../source/support.js';
import { startLoopbackForge, type LoopbackForge } from './loopback-forge.js';
import { giteaPullRequest, githubPullRequest, gitlabMergeRequest } from './payloads.js';

/*
 * Pull requests previewed from webhooks, end to end: `fleetcd serve` (the built binary) over the demo fleet in
 * a real git repository with pull-request refs, real ansible-playbook over local-connection hosts, and a forge
 * on 127.0.0.1 that records the commit statuses and comments fleetcd posts to it.
 */

const projectDir = fileURLToPath(new URL('../..', import.meta.url));
const demoSite = readFileSync(join(projectDir, 'playbooks/site.yml'), 'utf8');
const demoInventory = readFileSync(join(projectDir, 'inventories/demo.yml'), 'utf8');
const secret = 'a-long-webhook-secret';
const forgeToken = 'forge-token-never-logged';

/** The demo fleet with more web workers and a task check mode cannot verify. */
const moreWorkers = (workers: number): Record<string, string> => ({
  'inventories/demo.yml': demoInventory.replace('web_workers: 4', `web_workers: ${workers}`),
  'playbooks/site.yml': `${demoSite}\n    - name: Reload web\n      ansible.builtin.command: /bin/true\n`,
});
const broken: Record<string, string> = {
  'playbooks/site.yml': `${demoSite}\n- name: Broken\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: A step that fails\n      ansible.builtin.fail: { msg: "this branch is broken" }\n`,
};

describe('previews of pull requests, with commit statuses and comments on the forge', () => {
  let dir: string;
  let repo: FleetRepo;
  let forge: LoopbackForge;
  let daemon: DaemonProcess;
  let base: string;
  let config: string;
  let writeConfig: (previews: string) => void;

  /** Commits `files` on `branch` (made from main the first time), pushes it and the forge's pull-request ref. */
  function pushPullRequest(branch: string, pullRef: string, files: Record<string, string>): string {
    const exists = git(repo.work, 'branch', '--list', branch) !== '';
    git(repo.work, 'checkout', '-q', ...(exists ? [branch] : ['-b', branch]));
    for (const [path, content] of Object.entries(files)) writeFileSync(join(repo.work, path), content);
    git(repo.work, 'commit', '-q', '--allow-empty', '-am', `${branch}: ${Object.keys(files).join(', ') || 'empty'}`);
    git(repo.work, 'push', '-q', '-f', 'origin', branch, `HEAD:${pullRef}`);
    const sha = git(repo.work, 'rev-parse', 'HEAD');
    git(repo.work, 'checkout', '-q', 'main');
    return sha;
  }

  /** A delivery signed the way each forge signs it. */
  async function deliver(
    forgeType: 'github' | 'gitlab' | 'gitea',
    payload: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const body = JSON.stringify(payload);
    const hmac = createHmac('sha256', secret).update(body).digest('hex');
    const headers: Record<string, string> =
      forgeType === 'github' ? { 'x-github-event': 'pull_request', 'x-hub-signature-256': `sha256=${hmac}` }
      : forgeType === 'gitlab' ? { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': secret }
      : { 'x-gitea-event': 'pull_request', 'x-gitea-signature': hmac };
    const response = await fetch(`${base}/api/v1/webhooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers, ...extraHeaders }, body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const preview = (id: number): Promise<PreviewView> => getJson<PreviewView>(base, `/api/v1/previews/${id}`);
  const ended = (id: number): Promise<PreviewView> =>
    waitFor(`preview #${id} to end`, async () => {
      const view = await preview(id);
      return view.status === 'queued' || view.status === 'running' ? undefined : view;
    }, 90_000, 100);
  /** The commit's accepted statuses once the last one is `state`. */
  const statusesUntil = (sha: string, state: string) =>
    waitFor(`a ${state} status on ${sha.slice(0, 12)}`, () => {
      const statuses = forge.statuses(sha);
      return statuses.at(-1)?.body.state === state ? statuses : undefined;
    }, 90_000, 50);

  /** Rewrites the previews section and reloads the daemon (SIGHUP), waiting until it says so. */
  async function reload(previews: string): Promise<void> {
    const before = daemon.output().split('config reloaded').length;
    writeConfig(previews);
    daemon.child.kill('SIGHUP');
    await waitFor('the config reload', () => daemon.output().split('config reloaded').length > before, 10_000, 50);
  }

  before(async () => {
    dir = tempDir('fleetcd-forge-');
    forge = await startLoopbackForge(forgeToken);
    repo = await createFleetRepo({ 'playbooks/site.yml': demoSite, 'inventories/demo.yml': demoInventory });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    for (const [file, content] of [['api-token', 'api-token\n'], ['webhook-secret', `${secret}\n`], ['forge-token', `${forgeToken}\n`]] as const) {
      writeFileSync(join(dir, file), content, { mode: 0o600 });
    }
    config = join(dir, 'fleetcd.yaml');
    writeConfig = (previews) =>
      writeFileSync(
        config,
        `repository: { url: ${repo.origin}, pollInterval: 1h, webhookSecretFile: ${join(dir, 'webhook-secret')} }\n` +
          `stateDir: ${join(dir, 'state')}\napi: { listen: "127.0.0.1:${port}", tokenFile: ${join(dir, 'api-token')} }\n` +
          `reconcile: { mode: apply, interval: 1h }\ntargets: { demo: { extraVars: { demo_root: ${join(dir, 'hosts')} } } }\n${previews}\n`,
      );
    writeConfig(previewsConfig('github'));
    daemon = spawnDaemon(config);
    await waitFor('the demo fleet applied and in sync', async () => {
      const status = await getJson<StatusView>(base, '/api/v1/status');
      const demo = status.targets.find((t) => t.name === 'demo');
      return demo && !demo.running && demo.status === 'in-sync' && demo.lastApplyAt !== null ? demo : undefined;
    }, 90_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}\n${daemon?.output().slice(-4000)}`);
    });
  });

  const previewsConfig = (type: string, fromWebhooks = true): string =>
    `previews: { fromWebhooks: ${fromWebhooks}, comment: true, forge: { type: ${type}, url: "${forge.url}", tokenFile: ${join(dir, 'forge-token')} } }`;

  after(async () => {
    await daemon?.stop();
    await forge?.close();
    repo?.cleanup();
    if (dir) removeDir(dir);
  });

  test('a pull-request webhook: a pending, then a success status with the summary and the link, and the plan as a comment', async (t) => {
    const sha = pushPullRequest('feature/workers', 'refs/pull/7/head', moreWorkers(8));
    forge.failNext('comment'); // the forge has a bad moment: the comment is posted again
    const started = Date.now();
    const answer = await deliver('github', githubPullRequest({ action: 'opened', number: 7, headSha: sha, headRef: 'feature/workers' }));
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const id = answer.body.preview as number;
    assert.deepEqual(answer.body, { provider: 'github', event: 'pull_request', ref: 'refs/pull/7/head', after: sha, preview: id });

    const statuses = await statusesUntil(sha, 'success');
    t.diagnostic(`pull-request webhook → success status: ${statuses.at(-1)!.at - started} ms (demo fleet, 3 local hosts)`);
    const link = `${base}/#/previews/${id}`;
    assert.equal(statuses[0]!.body.state, 'pending');
    for (const status of statuses) {
      assert.equal(status.repository, 'acme/fleet');
      assert.equal(status.body.context, 'fleetcd/preview');
      assert.equal(status.body.target_url, link);
      assert.equal(status.headers.authorization, `Bearer ${forgeToken}`);
      assert.equal(status.headers.accept, 'application/vnd.github+json');
    }
    assert.equal(statuses.at(-1)!.body.description, 'demo: 2 hosts would change, 1 unverified task');

    const view = await ended(id);
    const run = await getJson<RunDetail>(base, `/api/v1/runs/${view.targets[0]!.runId}`);
    const ms = (iso: string | null): number => Date.parse(iso ?? '') - started;
    t.diagnostic(
      `breakdown from the webhook: preview created ${ms(view.createdAt)} ms, check queued ${ms(run.queuedAt)} ms, started ${ms(run.startedAt)} ms, ` +
        `finished ${ms(run.finishedAt)} ms, preview ended ${ms(view.finishedAt)} ms, success status received ${statuses.at(-1)!.at - started} ms`,
    );
    assert.equal(view.status, 'succeeded');
    assert.equal(view.revision, sha);
    assert.equal(view.requestedBy, 'webhook');
    assert.deepEqual(view.pullRequest, { provider: 'github', repository: 'acme/fleet', number: 7, url: 'https://github.com/acme/fleet/pull/7', headSha: sha });
    assert.deepEqual(view.targets[0]!.changes.map((c) => `${c.host} ${c.task}`).sort(), ['web1 Web server config', 'web2 Web server config']);

    const comment = await waitFor('the comment', () => forge.comments(7)[0], 30_000, 50);
    assert.equal(forge.seen.filter((r) => r.kind === 'comment' && r.number === 7).map((r) => r.answered).join(','), '502,201', 'retried after a 502');
    const text = comment.body.body as string;
    assert.match(text, /^### fleetcd preview #\d+: succeeded\n/);
    assert.ok(text.includes(`demo: 2 hosts would change, 1 unverified task · [open the preview](${link})`), text);
    assert.ok(text.includes(' listen 8080\n-workers 4\n+workers 8\n```'), text);
    assert.ok(text.includes('**Unverified in check mode** (1)\n\n- `Reload web`:'), text);
    assert.ok(!daemon.output().includes(forgeToken), 'the forge token is never logged');
  });

  test('a preview whose check fails: a failure status saying so, and the failures in the comment', async () => {
    const sha = pushPullRequest('feature/broken', 'refs/pull/8/head', broken);
    const answer = await deliver('github', githubPullRequest({ action: 'opened', number: 8, headSha: sha, headRef: 'feature/broken' }));
    assert.equal(answer.status, 202);
    const statuses = await statusesUntil(sha, 'failure');
    assert.equal(statuses[0]!.body.state, 'pending');
    assert.equal(statuses.at(-1)!.body.description, 'demo: the check failed on 3 hosts');
    assert.equal((await ended(answer.body.preview as number)).status, 'failed');
    const comment = await waitFor('the comment', () => forge.comments(8)[0], 30_000, 50);
    const text = comment.body.body as string;
    assert.match(text, /\*\*Failed\*\* \(3\)\n/);
    for (const host of ['web1', 'web2', 'db1']) assert.ok(text.includes(`- \`${host}\` · \`A step that fails\`: \`this branch is broken\``), text);
  });

  test('a new push to the pull request supersedes its preview: the old head says so, the new head gets its own', async () => {
    const first = pushPullRequest('feature/more', 'refs/pull/9/head', moreWorkers(6));
    const opened = await deliver('github', githubPullRequest({ action: 'opened', number: 9, headSha: first, headRef: 'feature/more' }));
    const second = pushPullRequest('feature/more', 'refs/pull/9/head', moreWorkers(7));
    const pushed = await deliver('github', githubPullRequest({ action: 'synchronize', number: 9, headSha: second, headRef: 'feature/more', before: first }));
    assert.equal(pushed.status, 202);

    const old = await ended(opened.body.preview as number);
    assert.equal(old.status, 'cancelled');
    assert.equal(old.supersededBy, second);
    const oldStatuses = await statusesUntil(first, 'error');
    assert.equal(oldStatuses.at(-1)!.body.description, `superseded by ${second}`);
    const newStatuses = await statusesUntil(second, 'success');
    assert.equal(newStatuses[0]!.body.state, 'pending');
    assert.equal(newStatuses.at(-1)!.body.description, 'demo: 2 hosts would change, 1 unverified task');
    await waitFor('the comment', () => forge.comments(9)[0], 30_000, 50);
    await sleep(200);
    assert.equal(forge.comments(9).length, 1, 'one comment, for the preview that ended; none for the superseded one');
  });

  test("a fork's pull request is refused, recorded and answered with a failure status saying why; a closed one is ignored", async () => {
    const sha = pushPullRequest('mallory-branch', 'refs/pull/10/head', moreWorkers(9));
    const answer = await deliver('github', githubPullRequest({ action: 'opened', number: 10, headSha: sha, head: 'mallory/fleet' }));
    assert.equal(answer.status, 202);
    const reason = 'refused: the head is in a fork (mallory/fleet), not in acme/fleet; previews run only for branches of the watched repository';
    assert.deepEqual(answer.body, { provider: 'github', event: 'pull_request', ref: 'refs/pull/10/head', after: sha, refused: true, reason, preview: answer.body.preview });
    const view = await preview(answer.body.preview as number);
    assert.deepEqual([view.status, view.error, view.revision, view.targets.length], ['failed', reason, null, 0], 'recorded; nothing fetched or run');
    const statuses = await statusesUntil(sha, 'failure');
    assert.equal(statuses.length, 1);
    assert.equal(statuses[0]!.body.description, reason, 'the whole reason fits in 140 characters');

    const closed = await deliver('github', githubPullRequest({ action: 'closed', number: 7, headSha: sha }));
    assert.deepEqual([closed.status, closed.body.ignored, closed.body.reason], [202, true, 'pull request action closed is not previewed']);
  });

  test('the same pull-request delivery sent three times starts one preview; the repeats are 202 duplicate', async () => {
    const sha = pushPullRequest('feature/replayed', 'refs/pull/14/head', moreWorkers(3));
    const payload = githubPullRequest({ action: 'opened', number: 14, headSha: sha, headRef: 'feature/replayed' });
    const delivery = { 'x-github-delivery': 'a3c1f0d2-5b7e-11f0-9e4b-0242ac120002' };
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await deliver('github', payload, delivery));
    assert.equal(answers[0]!.status, 202, JSON.stringify(answers[0]!.body));
    const id = answers[0]!.body.preview as number;
    assert.equal(typeof id, 'number');
    for (const repeat of answers.slice(1)) {
      assert.equal(repeat.status, 202);
      assert.deepEqual([repeat.body.duplicate, repeat.body.message, repeat.body.preview], [true, 'duplicate delivery', undefined]);
    }
    assert.equal((await ended(id)).status, 'succeeded', 'the one preview was not superseded by a repeat');
    const { previews } = await getJson<{ previews: PreviewView[] }>(base, '/api/v1/previews?limit=50');
    assert.deepEqual(previews.filter((p) => p.pullRequest?.number === 14).map((p) => p.id), [id]);
  });

  test('GitLab (after a reload): statuses on /api/v4/projects/:id with PRIVATE-TOKEN, pending → running → success, and a note', async () => {
    await reload(previewsConfig('gitlab'));
    const sha = pushPullRequest('feature/gitlab', 'refs/merge-requests/11/head', moreWorkers(8));
    const answer = await deliver('gitlab', gitlabMergeRequest({ action: 'update', iid: 11, headSha: sha, oldrev: 'c'.repeat(40), sourceBranch: 'feature/gitlab' }));
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.ref, 'refs/merge-requests/11/head');
    const statuses = await statusesUntil(sha, 'success');
    assert.deepEqual(statuses.map((s) => s.body.state), ['pending', 'running', 'success']);
    for (const status of statuses) {
      assert.deepEqual([status.forge, status.repository, status.body.name, status.headers['private-token']], ['gitlab', '42', 'fleetcd/preview', forgeToken]);
    }
    const note = await waitFor('the note', () => forge.comments(11)[0], 30_000, 50);
    assert.equal(note.forge, 'gitlab');
    assert.match(note.body.body as string, /\+workers 8/);
  });

  test('Gitea (after a reload): statuses on /api/v1/repos/o/r with `token` auth, and a comment', async () => {
    await reload(previewsConfig('gitea'));
    const sha = pushPullRequest('feature/gitea', 'refs/pull/12/head', moreWorkers(8));
    const answer = await deliver('gitea', giteaPullRequest({ action: 'synchronized', number: 12, headSha: sha, headRef: 'feature/gitea' }));
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const statuses = await statusesUntil(sha, 'success');
    assert.equal(statuses[0]!.body.state, 'pending');
    for (const status of statuses) {
      assert.deepEqual([status.forge, status.repository, status.body.context, status.headers.authorization], ['gitea', 'acme/fleet', 'fleetcd/preview', `token ${forgeToken}`]);
    }
    const comment = await waitFor('the comment', () => forge.comments(12)[0], 30_000, 50);
    assert.equal(comment.forge, 'gitea');
  });

  test('with previews.fromWebhooks off, a pull request is acknowledged and ignored: no preview, nothing posted', async () => {
    await reload(previewsConfig('github', false));
    const newest = (await getJson<{ previews: Array<{ id: number }> }>(base, '/api/v1/previews?limit=1')).previews[0]!.id;
    const posted = forge.seen.length;
    const sha = pushPullRequest('feature/off', 'refs/pull/13/head', moreWorkers(5));
    const answer = await deliver('github', githubPullRequest({ action: 'opened', number: 13, headSha: sha }));
    assert.deepEqual(answer, {
      status: 202,
      body: { provider: 'github', event: 'pull_request', ref: null, after: null, ignored: true, reason: 'previews.fromWebhooks is off' },
    });
    await sleep(300);
    assert.equal((await getJson<{ previews: Array<{ id: number }> }>(base, '/api/v1/previews?limit=1')).previews[0]!.id, newest);
    assert.equal(forge.seen.length, posted);
  });
});
