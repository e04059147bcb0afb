import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { apiToken, localInventory, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { git } from '../source/support.js';

/*
 * Contract note 19: what a target may run is the watched ref's accepted tips and a rollback's revision, never a
 * preview's revision nor a pull request's head — not even as the fallback when the newest tip cannot be prepared.
 * Real git (a bare origin with a branch and a pull-request ref), real ansible-playbook and ansible-galaxy over
 * local-connection hosts in a sandbox dir.
 */

const site = `- hosts: all
  gather_facts: false
  tasks:
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "{{ app_value }}\\n" }
`;
const hosts = ['h1', 'h2'];

/** The fleet's inventory with `app_value` set for every host. */
const inventoryWith = (base: string, value: string): string => localInventory(base, hosts).replace('  vars:\n', `  vars:\n    app_value: ${value}\n`);

/** A requirements.yml whose only source is a loopback port nothing listens on: it cannot be reached. */
const unreachable = '- src: http://127.0.0.1:9/roles/gone.tar.gz\n  name: gone\n';

describe('a previewed revision never becomes the fleet revision', () => {
  let base: string;
  let repo: FleetRepo;
  let f: TestFleet;
  let applied: string;

  /** Commits `files` on `branch` from the applied revision and pushes it (or its head to `pushAs`); back on main after. */
  function pushBranch(branch: string, files: Record<string, string>, pushAs = branch): string {
    git(repo.work, 'checkout', '-q', '-b', branch, applied);
    for (const [path, content] of Object.entries(files)) writeFileSync(join(repo.work, path), content);
    git(repo.work, 'commit', '-q', '-am', branch);
    git(repo.work, 'push', '-q', 'origin', `HEAD:${pushAs}`);
    const sha = git(repo.work, 'rev-parse', 'HEAD');
    git(repo.work, 'checkout', '-q', 'main');
    return sha;
  }

  const values = (): string[] => hosts.map((host) => readFileSync(join(base, host, 'app.conf'), 'utf8').trim());

  async function reconcileOverApi(): Promise<number> {
    const answer = await f.api.inject({
      method: 'POST',
      url: '/api/v1/reconcile',
      headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' },
      payload: '{}',
    });
    assert.equal(answer.statusCode, 202, answer.body);
    const [run] = (answer.json() as { runs: Array<{ id: number }> }).runs;
    await f.chain(run!.id);
    return run!.id;
  }

  /** Previews `ref` to its end and checks the preview saw the branch's value as a change. */
  async function previewOf(ref: string, value: string): Promise<void> {
    const id = f.fleet.previews.start(ref, { requestedBy: 'test' });
    await f.fleet.previews.idle();
    const preview = f.fleet.previews.view(id);
    assert.equal(preview.status, 'succeeded', preview.error ?? '');
    const diffs = JSON.stringify(preview.targets[0]!.changes.map((c) => c.diff));
    assert.ok(diffs.includes(value), `the preview shows the branch's value: ${diffs}`);
  }

  /** Pushes a new tip on main whose requirements cannot be installed, and lets its commit reconcile end. */
  async function brokenTip(message: string): Promise<string> {
    const sha = await repo.commit({ 'requirements.yml': unreachable, 'playbooks/site.yml': `${site}# ${message}\n` }, message);
    await f.fleet.fetchNow();
    await waitFor('the broken tip fetched', () => f.fleet.sourceView().sha === sha, 30_000, 20);
    await waitFor('its reconcile', async () => {
      await f.fleet.reconciler.idle();
      return failedRunsAt(sha).length > 0;
    }, 60_000, 50);
    return sha;
  }

  const failedRunsAt = (sha: string) => f.fleet.runs({ target: 'app', limit: 500 }).filter((r) => r.revision === sha && r.status === 'failed');

  /** What every reconcile after a broken tip must show: A's values, A's revision, and a problem naming the tip. */
  async function staysAtApplied(broken: string, branchValue: string): Promise<void> {
    assert.equal(failedRunsAt(broken).length, 1, 'the broken tip got its failed run');
    assert.match(failedRunsAt(broken)[0]!.error ?? '', /requirements\.yml/);

    const first = await reconcileOverApi();
    const second = await reconcileOverApi();
    const runs = f.fleet.runs({ target: 'app', limit: 500 }).filter((r) => r.id >= first);
    assert.deepEqual(runs.filter((r) => r.kind === 'apply'), [], 'nothing was applied');
    for (const run of runs) assert.equal(run.revision, applied, `run #${run.id} ran at the revision the target last ran`);
    assert.ok(runs.some((r) => r.id === second && r.status === 'succeeded'));
    assert.equal(failedRunsAt(broken).length, 1, 'one failed run per broken tip, not one per reconcile');

    assert.deepEqual(values(), hosts.map(() => 'a'), `the hosts keep main's value, never ${branchValue}`);
    const target = f.fleet.target('app');
    assert.equal(target.revision?.sha, applied);
    assert.ok(target.problem?.includes(broken.slice(0, 12)), `problem names the tip: ${target.problem}`);
    assert.match(target.problem ?? '', /requirements\.yml/, 'and why it is not in use');
    assert.equal(f.fleet.status().revision?.branch, 'main');
  }

  before(async () => {
    base = tempDir('fleetcd-lanes-');
    for (const host of hosts) mkdirSync(join(base, host), { recursive: true });
    repo = await createFleetRepo({ 'playbooks/site.yml': site, 'inventories/app.yml': inventoryWith(base, 'a') });
    applied = repo.head();
    f = await makeFleet(undefined, { repository: { url: repo.origin }, config: { reconcile: { mode: 'apply', interval: '1h' } } });
    await waitFor('main applied', async () => {
      await f.fleet.reconciler.idle();
      return f.fleet.target('app').lastApplyAt ?? undefined;
    }, 60_000, 100);
    assert.deepEqual(values(), ['a', 'a']);
  });

  after(async () => {
    await f?.cleanup();
    repo?.cleanup();
    removeDir(base);
  });

  test('a previewed branch is not what reconciles fall back to when the newest tip fails to prepare', async () => {
    pushBranch('feature', { 'inventories/app.yml': inventoryWith(base, 'b') });
    await previewOf('feature', 'b');
    const broken = await brokenTip('C: a role from a source that cannot be reached');
    await staysAtApplied(broken, 'b');
    assert.equal(f.fleet.status().revision?.branch, 'main');
  });

  test("a pull request's head, previewed, is not what reconciles fall back to either", async () => {
    pushBranch('pr-5', { 'inventories/app.yml': inventoryWith(base, 'e') }, 'refs/pull/5/head');
    await previewOf('refs/pull/5/head', 'e');
    const broken = await brokenTip('D: still a role from a source that cannot be reached');
    await staysAtApplied(broken, 'e');
  });
});
