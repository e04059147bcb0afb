import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Everything the daemon writes goes with the runs: previews and their mirror refs, gate results, source
 * revision rows and installed requirements of revisions nothing keeps; what is in use stays.
 */

const day = 86_400_000;
const fakeSha = 'd'.repeat(40);

const fast = playbook(`
    - name: hello
      ansible.builtin.debug: { msg: hi }
`);

/** A playbook that waits until `file` exists: a run that stays running as long as the test needs. */
function waitingFor(file: string): string {
  return playbook(`
    - name: wait for the test
      ansible.builtin.wait_for: { path: "${file}", timeout: 600 }
      check_mode: false
`);
}

describe('pruning everything the daemon writes', () => {
  let repo: FleetRepo;
  let f: TestFleet;
  let scratch: string;

  before(async () => {
    scratch = tempDir('fleetcd-prune-all-');
    repo = await createFleetRepo({
      'playbooks/site.yml': fast,
      'inventories/web.yml': localInventory(scratch, ['web1']),
      'inventories/db.yml': localInventory(scratch, ['db1']),
    });
    f = await makeFleet(undefined, {
      repository: { url: repo.origin, keepRevisions: 2 },
      config: { retention: { maxAge: '1d', maxRunsPerTarget: 3 } },
    });
  });

  after(async () => {
    for (const name of ['release-db', 'release-preview']) writeFileSync(join(scratch, name), '');
    await f?.cleanup();
    repo?.cleanup();
    removeDir(scratch);
  });

  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo.work, encoding: 'utf8' }).trim();
  const mirror = () => join(f.stateDir, 'source', 'mirror.git');
  const refs = () => git('--git-dir', mirror(), 'for-each-ref', '--format=%(refname)', 'refs/fleetcd/').split('\n').filter(Boolean);
  const previewRef = (branch: string) => `refs/fleetcd/preview/${createHash('sha1').update(`refs/heads/${branch}`).digest('hex')}`;
  const galaxy = (sha: string) => join(f.stateDir, 'work', 'galaxy', sha);

  async function push(files: Record<string, string>, message: string): Promise<string> {
    const sha = await repo.commit(files, message);
    await f.fleet.fetchNow();
    await waitFor(`revision ${sha}`, () => f.fleet.status().revision?.sha === sha, 30_000);
    return sha;
  }

  /** A branch of its own (pushed to origin) whose tip adds `files` to main's; main is left as it was. */
  function branch(name: string, files: Record<string, string>): string {
    git('checkout', '-q', '-b', name);
    for (const [path, text] of Object.entries(files)) writeFileSync(join(repo.work, path), text);
    git('add', '-A');
    git('commit', '-q', '--allow-empty', '-m', name);
    git('push', '-q', 'origin', `HEAD:refs/heads/${name}`);
    const sha = git('rev-parse', 'HEAD');
    git('checkout', '-q', 'main');
    return sha;
  }

  test('old previews, their refs, gate results, source rows and installs go; what is in use stays', async () => {
    const c1 = f.fleet.status().revision!.sha;
    await f.fleet.reconciler.idle();
    // Tips seen long ago: older than maxAge, and not the newest of the ref.
    const { url, ref } = f.db.prepare(`SELECT url, ref FROM source_revisions LIMIT 1`).get() as { url: string; ref: string };
    const longAgo = new Date(Date.now() - 40 * day).toISOString();
    const oldTips = ['1', '2', '3'].map((digit) => digit.repeat(40));
    for (const sha of oldTips) {
      f.db.prepare(`INSERT INTO source_revisions (url, ref, sha, subject, author, committed_at, first_seen_at, status) VALUES (?, ?, ?, 'old', 'a', ?, ?, 'accepted')`)
        .run(url, ref, sha, longAgo, longAgo);
    }

    // A preview that ended long ago.
    const oldSha = branch('old', {});
    const oldPreview = f.fleet.previews.start('old', { targets: ['web'] });
    await waitFor('the old preview to end', () => f.stores.previews.get(oldPreview)?.status === 'succeeded', 60_000);
    f.db.prepare(`UPDATE previews SET created_at = ?, finished_at = ? WHERE id = ?`).run(longAgo, longAgo, oldPreview);
    f.db.prepare(`UPDATE runs SET queued_at = ?, started_at = ?, finished_at = ? WHERE preview_id = ?`).run(longAgo, longAgo, longAgo, oldPreview);
    assert.ok(refs().includes(previewRef('old')), 'the preview fetched its ref into the mirror');

    const c2 = await push({ 'README.md': 'two' }, 'two');
    await f.fleet.reconciler.idle();
    f.fleet.rollback('web', c1, { by: 'test', reason: 'held' });
    await f.fleet.reconciler.idle();

    // db runs at c3 and stays running: a revision a running reconcile holds.
    const c3 = await push({ 'playbooks/site.yml': waitingFor(join(scratch, 'release-db')) }, 'three: waits');
    await waitFor('db running at c3', () => f.fleet.runs({ target: 'db', limit: 5 }).some((r) => r.status === 'running' && r.revision === c3), 60_000);
    const c4 = await push({ 'playbooks/site.yml': fast }, 'four');
    const c5 = await push({ 'README.md': 'five' }, 'five');
    const c6 = await push({ 'README.md': 'six' }, 'six');

    // A preview still going: its check of db waits behind db's own running run.
    const featureSha = branch('feature', { 'README.md': 'feature' });
    const running = f.fleet.previews.start('feature', { targets: ['db'] });
    await waitFor('the preview to start', () => f.stores.previews.get(running)?.status === 'running', 60_000);

    for (const sha of [c1, c2, c3, c4, c5, c6, featureSha, oldSha, fakeSha]) {
      mkdirSync(galaxy(sha), { recursive: true });
      writeFileSync(join(galaxy(sha), '.installed'), 'test\n');
      f.stores.gates.record(sha, { gate: 'lint', command: ['true'], ok: true, exitCode: 0, output: '', ranAt: new Date().toISOString() });
    }

    await f.fleet.pruner.prune();
    assert.doesNotMatch(readFileSync(f.logFile, 'utf8'), /could not prune|pruning failed/, 'the pass went through');

    assert.equal(f.stores.previews.get(oldPreview), undefined, 'the old preview is gone');
    assert.equal((f.db.prepare(`SELECT COUNT(*) AS n FROM runs WHERE preview_id = ?`).get(oldPreview) as { n: number }).n, 0, 'with its runs');
    assert.ok(!refs().includes(previewRef('old')), 'and its ref in the mirror');
    assert.equal(f.stores.previews.get(running)?.status, 'running', 'a preview still going stays');
    assert.ok(refs().includes(previewRef('feature')), 'with its ref');

    const gated = new Set((f.db.prepare(`SELECT revision FROM gate_results`).all() as Array<{ revision: string }>).map((r) => r.revision));
    assert.ok(!gated.has(oldSha) && !gated.has(fakeSha), 'gate results of revisions nothing keeps are gone');
    for (const sha of [c1, c3, c6, featureSha]) assert.ok(gated.has(sha), `gate results at ${sha.slice(0, 7)} (in use) stay`);

    const tips = new Set((f.db.prepare(`SELECT sha FROM source_revisions`).all() as Array<{ sha: string }>).map((r) => r.sha));
    assert.ok(oldTips.every((sha) => !tips.has(sha)), 'source rows older than maxAge are gone');
    for (const sha of [c1, c3, c6]) assert.ok(tips.has(sha), `the source row of ${sha.slice(0, 7)} (held, running, current) stays`);

    const checkouts = new Set(readdirSync(join(f.stateDir, 'source', 'revisions')));
    for (const sha of [c1, c3, c6, featureSha]) {
      assert.ok(checkouts.has(sha), `the checkout of ${sha.slice(0, 7)} stays`);
      assert.ok(existsSync(galaxy(sha)), `the installed requirements of ${sha.slice(0, 7)} stay`);
    }
    assert.ok(!existsSync(galaxy(oldSha)) && !existsSync(galaxy(fakeSha)), 'installs without a checkout are gone');
    for (const sha of readdirSync(join(f.stateDir, 'work', 'galaxy'))) assert.ok(checkouts.has(sha), `${sha.slice(0, 7)}: every install left has a kept checkout`);
    assert.ok(!checkouts.has(c2) && !existsSync(galaxy(c2)), 'c2 (not in use, beyond keepRevisions) is gone with its install');
  });
});
