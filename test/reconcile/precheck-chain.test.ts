import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import type { RunDetail } from '../../src/store/types.js';

/*
 * `reconcile.precheck` on real commits, real ansible-playbook and a real record. Three apply-mode targets share
 * one playbook: `fast` (precheck auto, the default), `careful` (precheck: always) and `gated` (a policy gate that
 * fails while the commit has a file named BROKEN); `held` has a gate that passes, slowly while a file says so.
 */

const tasks = `
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory, mode: "0755" }
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "version {{ version }}\\n", mode: "0644" }
`;

describe('precheck auto: a new revision goes apply → verify', { timeout: 300_000 }, () => {
  let repo: FleetRepo;
  let f: TestFleet;
  let sandboxes: string;
  const conf = (target: string, host: string): string => readFileSync(join(sandboxes, target, host, 'app.conf'), 'utf8');

  /** Every run of a target at a revision, as chains in id order (the reconcile's first run, then its followers). */
  const chainAt = async (target: string, sha: string): Promise<RunDetail[]> => {
    await f.fleet.reconciler.idle();
    const ids = f.fleet.runs({ target, limit: 500 }).filter((r) => r.revision === sha).map((r) => r.id).sort((a, b) => a - b);
    assert.ok(ids.length > 0, `${target} has runs at ${sha}`);
    const chain = await f.chain(ids[0]!);
    assert.deepEqual(chain.map((r) => r.id), ids, `${target}: every run at the revision is one chain`);
    return chain;
  };
  const commit = async (version: string, extra: Record<string, string | null> = {}): Promise<string> => {
    const sha = await repo.commit({ 'inventories/group_vars/all.yml': `version: ${version}\n`, ...extra }, `version ${version}`);
    await f.fleet.fetchNow();
    return sha;
  };

  before(async () => {
    sandboxes = tempDir('fleetcd-precheck-');
    const hosts = ['h1', 'h2'];
    repo = await createFleetRepo({
      'playbooks/site.yml': playbook(tasks),
      'inventories/fast.yml': localInventory(join(sandboxes, 'fast'), hosts),
      'inventories/careful.yml': localInventory(join(sandboxes, 'careful'), hosts),
      'inventories/gated.yml': localInventory(join(sandboxes, 'gated'), hosts),
      'inventories/held.yml': localInventory(join(sandboxes, 'held'), hosts),
      'inventories/group_vars/all.yml': 'version: 1\n',
    });
    f = await makeFleet(undefined, {
      repository: { url: repo.origin },
      config: {
        reconcile: { mode: 'apply', interval: '1h' },
        targets: {
          careful: { precheck: 'always' },
          gated: { gates: [{ name: 'not-broken', command: ['sh', '-c', 'test ! -e BROKEN || { echo "BROKEN is here"; exit 1; }'] }] },
          // Passes, after waiting while ${sandboxes}/hold exists (it says it started by touching ${sandboxes}/started).
          held: { gates: [{ name: 'slow', command: ['sh', '-c', 'test -e "$0/hold" || exit 0; touch "$0/started"; while test -e "$0/hold"; do sleep 0.1; done', sandboxes] }] },
        },
      },
    });
  });

  after(async () => {
    await f?.cleanup();
    repo?.cleanup();
    removeDir(sandboxes);
  });

  test('the first revision at start-up: apply then verify, no check before it', async () => {
    const [apply, verify, ...rest] = await chainAt('fast', repo.head());
    assert.equal(rest.length, 0);
    assert.equal(apply!.kind, 'apply');
    assert.equal(apply!.trigger, 'startup');
    assert.equal(apply!.status, 'succeeded', apply!.error ?? '');
    assert.equal(apply!.limit, null, 'a revision never applied goes to every host');
    assert.equal(verify!.kind, 'check');
    assert.equal(verify!.summary.changed, 0);
    assert.equal(conf('fast', 'h2'), 'version 1\n');
  });

  test('a new commit: the apply comes first and its run detail lists what changed per host and task, with diffs', async () => {
    const sha = await commit('2');
    const [apply, verify, ...rest] = await chainAt('fast', sha);
    assert.equal(rest.length, 0);
    assert.equal(apply!.kind, 'apply', 'no check ran before the apply');
    assert.equal(apply!.trigger, 'commit');
    assert.equal(apply!.status, 'succeeded', apply!.error ?? '');
    assert.equal(apply!.followedBy, verify!.id);
    assert.deepEqual(apply!.changes.map((c) => `${c.host}:${c.task}`).sort(), ['h1:app config', 'h2:app config']);
    for (const change of apply!.changes) {
      const diff = change.diff?.[0] as { before?: string; after?: string } | undefined;
      assert.equal(diff?.before, 'version 1\n', `${change.host}: the diff shows what was there`);
      assert.equal(diff?.after, 'version 2\n', `${change.host}: and what the apply wrote`);
    }
    assert.equal(apply!.summary.changed, 2);
    assert.equal(verify!.kind, 'check');
    assert.equal(verify!.status, 'succeeded');
    assert.equal(verify!.summary.changed, 0);
    assert.equal(conf('fast', 'h1'), 'version 2\n');
    const target = f.fleet.target('fast');
    assert.equal(target.status, 'in-sync');
    assert.equal(target.waiting, null);
  });

  test('precheck: always keeps check → apply → verify, the check reporting the change first', async () => {
    const sha = repo.head();
    const chain = await chainAt('careful', sha);
    assert.deepEqual(chain.map((r) => r.kind), ['check', 'apply', 'check']);
    const [check, apply] = chain;
    assert.deepEqual(check!.changes.map((c) => `${c.host}:${c.task}`).sort(), ['h1:app config', 'h2:app config']);
    assert.equal(apply!.status, 'succeeded', apply!.error ?? '');
    assert.equal(conf('careful', 'h2'), 'version 2\n');
  });

  test('a failing policy gate still holds the apply: the check reports the drift and no apply runs', async () => {
    const sha = await commit('3', { BROKEN: 'yes\n' });
    const chain = await chainAt('gated', sha);
    assert.deepEqual(chain.map((r) => r.kind), ['check'], 'the gate held the apply');
    assert.deepEqual(chain[0]!.changes.map((c) => `${c.host}:${c.task}`).sort(), ['h1:app config', 'h2:app config']);
    assert.equal(conf('gated', 'h1'), 'version 2\n', 'nothing was applied');
    const target = f.fleet.target('gated');
    assert.equal(target.waiting?.reason, 'gate');
    assert.match(target.waiting?.detail ?? '', /gate not-broken failed \(exit 1\): BROKEN is here/);
    // The gate is per target: the same commit reaches fast at once.
    assert.deepEqual((await chainAt('fast', sha)).map((r) => r.kind), ['apply', 'check']);
    assert.equal(conf('fast', 'h1'), 'version 3\n');
  });

  test('a check asked for once the apply was decided does not join it: it runs after, as a check, and applies nothing', async () => {
    writeFileSync(join(sandboxes, 'hold'), '');
    const sha = await commit('4');
    await waitFor('the held target to be in its gate', () => existsSync(join(sandboxes, 'started')), 60_000);
    const first = f.fleet.runs({ target: 'held', limit: 500 }).filter((r) => r.revision === sha);
    assert.equal(first.length, 1, 'one reconcile of held at the commit so far');
    const [asked] = f.fleet.reconcile(['held'], { trigger: 'api', mode: 'check' });
    assert.notEqual(asked!.id, first[0]!.id, 'the check request got a reconcile of its own');
    rmSync(join(sandboxes, 'hold'));
    await f.fleet.reconciler.idle();
    assert.deepEqual((await f.chain(first[0]!.id)).map((r) => r.kind), ['apply', 'check']);
    const checked = await f.chain(asked!.id);
    assert.deepEqual(checked.map((r) => [r.kind, r.followedBy]), [['check', null]]);
    assert.equal(checked[0]!.summary.changed, 0, 'it checked after the apply, and found the hosts in sync');
    assert.equal(conf('held', 'h1'), 'version 4\n');
  });
});
