import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from '../../src/store/sqlite.js';
import { backupDatabase } from '../../src/store/backup.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * Retention keeps the record bounded without the API pausing, and never drops a run the status points to;
 * backup takes a consistent copy while runs write.
 */

const day = 86_400_000;
const oldRevision = 'b'.repeat(40);

describe('retention and backup', () => {
  let f: TestFleet;
  let scratch: string;

  before(async () => {
    scratch = tempDir('fleetcd-retention-');
    f = await makeFleet(
      {
        'playbooks/site.yml': playbook(`
    - name: hello
      ansible.builtin.debug: { msg: hi }
    - ansible.builtin.pause: { seconds: 1 }
`),
        'inventories/web.yml': localInventory(scratch, ['web1']),
        'inventories/db.yml': localInventory(scratch, ['db1']),
      },
      { config: { retention: { maxAge: '1d', maxRunsPerTarget: 50 } } },
    );
  });

  after(async () => {
    await f.cleanup();
    removeDir(scratch);
  });

  /** `count` finished runs of `target`, `ageDays` old, each with a host, two task rows and a log file. */
  function oldRuns(target: string, count: number, ageDays: number, revision = 'c'.repeat(40)): number[] {
    const at = new Date(Date.now() - ageDays * day).toISOString();
    const ids: number[] = [];
    const touch = f.db.prepare(`UPDATE runs SET queued_at = ?, started_at = ?, finished_at = ? WHERE id = ?`);
    mkdirSync(join(f.stateDir, 'logs'), { recursive: true });
    for (let i = 0; i < count; i++) {
      const id = f.store.create({ target, kind: 'check', trigger: 'schedule', revision });
      f.store.start(id, revision, null);
      for (const task of ['a', 'b']) {
        f.store.addTask(id, { host: `${target}1`, task, module: 'debug', path: null, status: 'ok', durationMs: 1, message: null, diff: null, truncated: false, censored: false, ignored: false, rescued: false, unverified: null });
      }
      f.store.finish(id, { status: 'succeeded', exitCode: 0, error: null, hosts: new Map([[`${target}1`, { ok: 2, changed: 0, failed: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 }]]) });
      touch.run(at, at, at, id);
      writeFileSync(join(f.stateDir, 'logs', `run-${id}.log`), 'PLAY RECAP\n');
      ids.push(id);
    }
    return ids;
  }

  test('prunes old runs and runs beyond the per-target count in batches while the API answers, keeping what the status points to', async () => {
    const held = oldRuns('db', 5, 40, oldRevision);
    f.stores.targets.hold('db', { revision: oldRevision, reason: 'test', at: new Date().toISOString(), by: 'test' });
    const old = oldRuns('web', 2000, 10);
    const recent = oldRuns('db', 120, 0.1);
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    const [newest] = await f.chain(id);

    let answered = 0;
    let failed = 0;
    let reading = true;
    const reads = (async () => {
      while (reading) {
        const response = await f.api.inject({ method: 'GET', url: answered % 2 ? '/api/v1/status' : '/api/v1/runs?limit=50' });
        if (response.statusCode === 200) answered += 1;
        else failed += 1;
        // inject() never leaves the microtask queue; a real client's request would let the pass go on.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const result = await f.fleet.pruner.prune();
    reading = false;
    await reads;

    assert.equal(failed, 0);
    assert.ok(answered > 10, `the API answered ${answered} reads during the pass`);
    assert.ok(result.runs >= 2000 + 70, `pruned ${result.runs}`);
    const exists = (runId: number) => f.store.get(runId) !== undefined;
    assert.ok(old.every((runId) => !exists(runId)), 'runs older than maxAge are gone');
    assert.ok(old.every((runId) => !existsSync(join(f.stateDir, 'logs', `run-${runId}.log`))), 'with their log files');
    assert.equal(recent.filter(exists).length, 50, 'a target keeps its newest maxRunsPerTarget runs');
    assert.ok(recent.slice(-50).every(exists), 'the newest of them');
    assert.ok(held.every(exists), 'runs at a held revision stay, whatever their age');
    assert.ok(exists(newest!.id), 'the run the status points to stays');
    assert.equal(f.fleet.target('web').lastRun?.id, newest!.id);
    assert.equal(f.db.pragma('freelist_count', { simple: true }), 0, 'freed pages went back to the file system');
    assert.equal(f.db.pragma('integrity_check', { simple: true }), 'ok');
  });

  test('backup takes a consistent copy while runs are writing', async () => {
    const runs = f.fleet.reconcile(['web', 'db'], { trigger: 'api', mode: 'check' });
    const file = join(scratch, 'backup.db');
    const copy = await backupDatabase(f.stateDir, file);
    await f.fleet.reconciler.idle();
    assert.equal(copy.integrity, 'ok');
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const ids = (db.prepare('SELECT id FROM runs').all() as Array<{ id: number }>).map((r) => r.id);
      assert.ok(ids.includes(runs[0]!.id), 'the copy holds the runs queued before it');
      assert.equal(ids.length, copy.runs);
    } finally {
      db.close();
    }
    await assert.rejects(backupDatabase(f.stateDir, file), /exists; choose a new file/);
  });
});
