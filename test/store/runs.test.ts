import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import Database from '../../src/store/sqlite.js';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { FleetError } from '../../src/errors.js';
import { TaskWriter } from '../../src/reconcile/task-writer.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { RunStore } from '../../src/store/runs.js';
import { TargetStore } from '../../src/store/targets.js';
import type { HostRecap, RunKind, RunResult, TaskResult } from '../../src/store/types.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const revA = 'a'.repeat(40);
const revB = 'b'.repeat(40);
const migrationCount = readdirSync(fileURLToPath(new URL('../../src/store/migrations', import.meta.url))).filter((name) =>
  /^\d{3}-.*\.sql$/.test(name),
).length;

/** A database file in a fresh temp dir, closed and removed when the test ends. */
function openStore(t: TestContext): { store: RunStore; db: Db; file: string } {
  const dir = tempDir('fleetcd-store-');
  const file = join(dir, 'state', 'fleetcd.db');
  const db = openDatabase(file);
  t.after(() => {
    if (db.open) db.close();
    removeDir(dir);
  });
  return { store: new RunStore(db), db, file };
}

function recap(overrides: Partial<HostRecap> = {}): HostRecap {
  return { ok: 2, changed: 0, failed: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0, ...overrides };
}

function task(overrides: Partial<TaskResult> = {}): TaskResult {
  return {
    host: 'web1',
    task: 'Write app config',
    module: 'ansible.builtin.copy',
    path: '/repo/playbooks/site.yml:10',
    status: 'ok',
    durationMs: 120,
    message: null,
    diff: null,
    truncated: false,
    censored: false,
    ignored: false,
    rescued: false,
    unverified: null,
    ...overrides,
  } as TaskResult;
}

/** A run that went all the way through: created, started and finished with these host recaps. */
function finishedRun(
  store: RunStore,
  input: { target?: string; kind?: RunKind; revision?: string; status?: RunResult['status']; hosts?: Record<string, HostRecap> },
): number {
  const id = store.create({ target: input.target ?? 'web', kind: input.kind ?? 'check', trigger: 'schedule', revision: input.revision ?? revA });
  store.start(id, input.revision ?? revA, null);
  store.finish(id, {
    status: input.status ?? 'succeeded',
    exitCode: 0,
    error: null,
    hosts: new Map(Object.entries(input.hosts ?? { web1: recap() })),
  });
  return id;
}

describe('openDatabase', () => {
  it('applies every migration and records it in user_version', (t) => {
    const { db } = openStore(t);
    assert.ok(migrationCount >= 1);
    assert.equal(db.pragma('user_version', { simple: true }), migrationCount);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((r) => r.name);
    for (const table of ['runs', 'run_hosts', 'run_tasks']) assert.ok(tables.includes(table), `no table ${table}`);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  });

  it('reopens an existing database without migrating again and keeps its runs', (t) => {
    const { store, db, file } = openStore(t);
    const id = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: revA });
    db.close();
    const again = openDatabase(file);
    t.after(() => again.close());
    assert.equal(again.pragma('user_version', { simple: true }), migrationCount);
    assert.equal(new RunStore(again).get(id)?.target, 'web');
    const third = openDatabase(file);
    third.close();
  });

  it('refuses a database written by a newer fleetcd, naming the file and both versions', (t) => {
    const { db, file } = openStore(t);
    db.pragma('user_version = 99');
    db.close();
    assert.throws(
      () => openDatabase(file),
      (error: unknown) => {
        assert.ok(error instanceof FleetError);
        assert.equal(error.reason, 'store');
        assert.ok(error.message.includes(file), error.message);
        assert.match(error.message, /schema version 99 is newer than this fleetcd knows \(\d+\); upgrade fleetcd/);
        return true;
      },
    );
  });
});

describe('RunStore', () => {
  it('records a run from queued to finished and reads it back in detail', (t) => {
    const { store } = openStore(t);
    const id = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: revA, limit: 'web1' });
    const queued = store.get(id);
    assert.equal(queued?.status, 'queued');
    assert.equal(queued?.startedAt, null);
    assert.equal(queued?.limit, 'web1');
    assert.match(queued?.queuedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    store.start(id, revB, 'web1,web2');
    const running = store.get(id);
    assert.equal(running?.status, 'running');
    assert.equal(running?.revision, revB);
    assert.equal(running?.limit, 'web1,web2');
    assert.ok(running?.startedAt);

    const diff = [{ before: 'color = red\n', after: 'color = blue\n', before_header: '/etc/app.conf' }];
    store.addTask(id, task({ host: 'web1', status: 'ok', task: 'Install nginx' }));
    store.addTask(id, task({ host: 'web1', status: 'changed', diff }));
    store.addTask(id, task({ host: 'web2', status: 'changed', task: 'Secret', censored: true }));
    store.addTask(id, task({ host: 'web2', status: 'failed', task: 'Probe', message: 'ignored probe', ignored: true }));
    store.addTask(id, task({ host: 'web2', status: 'failed', task: 'Start app', message: 'port in use' }));
    store.addTask(id, task({ host: 'ghost', status: 'unreachable', task: 'Install nginx', message: 'Connection refused' }));
    store.finish(id, {
      status: 'failed',
      exitCode: 2,
      error: null,
      hosts: new Map([
        ['web2', recap({ ok: 3, changed: 1, failed: 1, ignored: 1 })],
        ['web1', recap({ ok: 2, changed: 1, skipped: 1 })],
        ['ghost', recap({ ok: 0, unreachable: 1 })],
      ]),
    });

    const run = store.detail(id);
    assert.ok(run);
    assert.equal(run.status, 'failed');
    assert.equal(run.exitCode, 2);
    assert.ok(run.finishedAt && run.finishedAt >= (run.startedAt ?? ''));
    assert.deepEqual(run.summary, { hosts: 3, ok: 5, changed: 2, failed: 1, unreachable: 1, skipped: 1 });
    assert.deepEqual(
      run.hosts.map((h) => h.host),
      ['ghost', 'web1', 'web2'],
    );
    assert.deepEqual(run.hosts[2], { host: 'web2', ok: 3, changed: 1, failed: 1, unreachable: 0, skipped: 0, rescued: 0, ignored: 1 });
    assert.deepEqual(
      run.changes.map(({ host, task, module, diff }) => ({ host, task, module, diff })),
      [
        { host: 'web1', task: 'Write app config', module: 'ansible.builtin.copy', diff },
        { host: 'web2', task: 'Secret', module: 'ansible.builtin.copy', diff: null },
      ],
    );
    assert.deepEqual(
      run.failures.map(({ host, task, message }) => ({ host, task, message })),
      [
        { host: 'web2', task: 'Start app', message: 'port in use' },
        { host: 'ghost', task: 'Install nginx', message: 'Connection refused' },
      ],
    );
  });

  it('finishes a run that never started with its start time set', (t) => {
    const { store } = openStore(t);
    const id = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: revA });
    store.finish(id, { status: 'failed', exitCode: null, error: 'no inventory', hosts: new Map() });
    const run = store.get(id);
    assert.equal(run?.error, 'no inventory');
    assert.ok(run?.startedAt);
    assert.deepEqual(run?.summary, { hosts: 0, ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0 });
  });

  it('has no run or detail for an unknown id', (t) => {
    const { store } = openStore(t);
    assert.equal(store.get(12345), undefined);
    assert.equal(store.detail(12345), undefined);
  });

  it('lists runs newest first, filtered by target, limited, and paged with beforeId', (t) => {
    const { store } = openStore(t);
    const ids = ['web', 'db', 'web', 'web', 'db', 'web'].map((target) =>
      store.create({ target, kind: 'check', trigger: 'schedule', revision: revA }),
    );
    assert.deepEqual(
      store.list({ limit: 50 }).map((r) => r.id),
      [...ids].reverse(),
    );
    const web = ids.filter((_, i) => [0, 2, 3, 5].includes(i));
    assert.deepEqual(
      store.list({ target: 'web', limit: 50 }).map((r) => r.id),
      [...web].reverse(),
    );
    assert.deepEqual(
      store.list({ target: 'web', limit: 2 }).map((r) => r.id),
      [web[3], web[2]],
    );
    assert.deepEqual(
      store.list({ target: 'web', limit: 2, beforeId: web[2] }).map((r) => r.id),
      [web[1], web[0]],
    );
    assert.deepEqual(store.list({ target: 'nope', limit: 50 }), []);
    assert.deepEqual(store.list({ limit: 50, beforeId: ids[0] }), []);
  });

  it('marks queued and running runs interrupted at start-up and leaves finished runs alone', (t) => {
    const { store } = openStore(t);
    const queued = store.create({ target: 'web', kind: 'check', trigger: 'schedule', revision: revA });
    const running = store.create({ target: 'db', kind: 'apply', trigger: 'schedule', revision: revA });
    store.start(running, revA, null);
    const done = finishedRun(store, { status: 'succeeded' });
    const cancelled = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: revA });
    store.finish(cancelled, { status: 'cancelled', exitCode: null, error: 'cancelled on request before it started', hosts: new Map() });

    assert.equal(store.markInterrupted(), 2);
    for (const id of [queued, running]) {
      const run = store.get(id);
      assert.equal(run?.status, 'interrupted');
      assert.equal(run?.error, 'fleetcd stopped before this run finished');
      assert.ok(run?.finishedAt);
    }
    assert.equal(store.get(done)?.status, 'succeeded');
    assert.equal(store.get(done)?.error, null);
    assert.equal(store.get(cancelled)?.status, 'cancelled');
    assert.equal(store.get(cancelled)?.error, 'cancelled on request before it started');
    assert.equal(store.markInterrupted(), 0);
  });

  it('says a revision was applied only after a succeeded apply without failures of that target and revision', (t) => {
    const { store } = openStore(t);
    finishedRun(store, { kind: 'check', revision: revA });
    finishedRun(store, { kind: 'apply', revision: revA, status: 'failed', hosts: { web1: recap({ failed: 1 }) } });
    finishedRun(store, { target: 'db', kind: 'apply', revision: revA });
    assert.equal(store.hasApplied('web', revA), false);
    finishedRun(store, { kind: 'apply', revision: revA });
    assert.equal(store.hasApplied('web', revA), true);
    assert.equal(store.hasApplied('web', revB), false);
    assert.equal(store.hasApplied('db', revA), true);
    assert.equal(store.hasApplied('other', revA), false);
  });

  it('picks per host the recap of the newest conclusive run of the target that included the host', (t) => {
    const { store } = openStore(t);
    const firstCheck = finishedRun(store, { kind: 'check', hosts: { web1: recap({ changed: 2 }), web2: recap({ changed: 1 }) } });
    const limitedApply = finishedRun(store, { kind: 'apply', hosts: { web1: recap({ changed: 2 }) } });
    finishedRun(store, { kind: 'check', status: 'cancelled', hosts: { web2: recap({ failed: 9 }) } });
    finishedRun(store, { kind: 'check', status: 'interrupted', hosts: { web1: recap({ failed: 9 }) } });
    finishedRun(store, { target: 'db', kind: 'check', hosts: { web1: recap({ unreachable: 1 }) } });
    const timedOut = finishedRun(store, { kind: 'check', status: 'timed-out', hosts: { web3: recap({ ok: 1 }) } });

    const recaps = store.latestHostRecaps('web');
    assert.deepEqual(
      recaps.map((r) => [r.host, r.kind, r.runId, r.changed, r.failed]),
      [
        ['web1', 'apply', limitedApply, 2, 0],
        ['web2', 'check', firstCheck, 1, 0],
        ['web3', 'check', timedOut, 0, 0],
      ],
    );
    assert.deepEqual(store.latestHostRecaps('nope'), []);
  });

  it('finds the verify check that followed the newest succeeded apply of the revision', (t) => {
    const { store } = openStore(t);
    assert.equal(store.latestVerifyCheck('web', revA), undefined);

    const olderApply = finishedRun(store, { kind: 'apply' });
    const olderVerify = finishedRun(store, { kind: 'check' });
    store.setFollowedBy(olderApply, olderVerify);
    assert.equal(store.latestVerifyCheck('web', revA), olderVerify);

    const newerApply = finishedRun(store, { kind: 'apply' });
    const newerVerify = store.create({ target: 'web', kind: 'check', trigger: 'schedule', revision: revA });
    store.setFollowedBy(newerApply, newerVerify);
    assert.equal(store.latestVerifyCheck('web', revA), olderVerify, 'a verify check still queued does not count');

    store.start(newerVerify, revA, null);
    store.finish(newerVerify, { status: 'succeeded', exitCode: 0, error: null, hosts: new Map([['web1', recap()]]) });
    assert.equal(store.latestVerifyCheck('web', revA), newerVerify);
    assert.equal(store.latestVerifyCheck('web', revB), undefined);
    assert.equal(store.latestVerifyCheck('db', revA), undefined);
  });

  it('ignores a verify check after a failed apply', (t) => {
    const { store } = openStore(t);
    const apply = finishedRun(store, { kind: 'apply', status: 'failed' });
    const verify = finishedRun(store, { kind: 'check' });
    store.setFollowedBy(apply, verify);
    assert.equal(store.latestVerifyCheck('web', revA), undefined);
  });
});

describe('the record of targets', () => {
  it('never rewrites a run that has ended', (t) => {
    const { store } = openStore(t);
    const id = finishedRun(store, { status: 'succeeded' });
    assert.equal(store.finish(id, { status: 'interrupted', exitCode: null, error: 'late', hosts: new Map() }), false);
    assert.equal(store.get(id)?.status, 'succeeded');
    assert.equal(store.get(id)?.error, null);
  });

  it('keeps each target pointing at its newest started, conclusive, check and apply runs, leaving previews out', (t) => {
    const { store, db } = openStore(t);
    const targets = new TargetStore(db);
    assert.deepEqual(targets.record('web').lastStarted, null);
    const check = finishedRun(store, { kind: 'check', hosts: { web1: recap({ changed: 1 }) } });
    const apply = finishedRun(store, { kind: 'apply', hosts: { web1: recap({ changed: 1 }) } });
    const cancelled = finishedRun(store, { kind: 'check', status: 'cancelled' });
    const preview = store.create({ target: 'web', kind: 'check', trigger: 'preview', revision: revB, previewId: 1 });
    store.start(preview, revB, null);
    store.finish(preview, { status: 'succeeded', exitCode: 0, error: null, hosts: new Map([['web1', recap({ changed: 5 })]]) });
    const record = targets.record('web');
    assert.equal(record.lastStarted?.id, cancelled);
    assert.equal(record.lastConclusive?.id, apply);
    assert.equal(record.lastCheck?.id, check);
    assert.equal(record.lastApply?.id, apply);
    assert.deepEqual(record.hosts, { total: 1, drifted: 0, unreachable: 0, failed: 0 });
    assert.equal(store.latestHostRecaps('web')[0]?.changed, 1, 'the preview did not touch the host recap');
  });

  it('counts hosts per target from their newest conclusive runs in a few queries', (t) => {
    const { store, db } = openStore(t);
    finishedRun(store, { target: 'web', hosts: { a: recap({ changed: 1 }), b: recap(), c: recap({ unreachable: 1 }), d: recap({ failed: 1 }) } });
    finishedRun(store, { target: 'db', kind: 'apply', hosts: { x: recap({ changed: 3 }) } });
    const records = new TargetStore(db).records(['web', 'db', 'none']);
    assert.deepEqual(records.get('web')?.hosts, { total: 4, drifted: 1, unreachable: 1, failed: 1 });
    assert.deepEqual(records.get('db')?.hosts, { total: 1, drifted: 0, unreachable: 0, failed: 0 });
    assert.deepEqual(records.get('none')?.hosts, { total: 0, drifted: 0, unreachable: 0, failed: 0 });
  });

  it('migrates a database of the previous schema: runs kept, target pointers and host recaps filled in', (t) => {
    const dir = tempDir('fleetcd-store-');
    t.after(() => removeDir(dir));
    const file = join(dir, 'fleetcd.db');
    const old = new Database(file);
    const migrations = fileURLToPath(new URL('../../src/store/migrations', import.meta.url));
    for (const name of ['001-runs.sql', '002-coverage.sql', '003-source.sql']) old.exec(readFileSync(join(migrations, name), 'utf8'));
    old.pragma('user_version = 3');
    old.exec(`INSERT INTO runs (target, kind, trigger, revision, status, queued_at, started_at, finished_at, hosts, changed)
              VALUES ('web', 'check', 'schedule', '${revA}', 'succeeded', 't', 't', 't', 1, 2)`);
    old.exec(`INSERT INTO run_hosts (run_id, host, ok, changed) VALUES (1, 'web1', 1, 2)`);
    old.close();
    const db = openDatabase(file);
    t.after(() => db.close());
    assert.equal(db.pragma('user_version', { simple: true }), migrationCount);
    assert.deepEqual(db.pragma('foreign_key_check'), []);
    const record = new TargetStore(db).record('web');
    assert.equal(record.lastCheck?.id, 1);
    assert.equal(record.lastConclusive?.summary.changed, 2);
    assert.deepEqual(record.hosts, { total: 1, drifted: 1, unreachable: 0, failed: 0 });
    assert.equal(new RunStore(db).detail(1)?.hosts[0]?.host, 'web1', 'per-host rows survive the rebuilt runs table');
  });
});

describe('task results written in bursts (TaskWriter)', () => {
  const log = pino({ level: 'silent' });

  it('writes a burst on the next turn of the event loop, in one transaction, and at once on flush', async (t) => {
    const { store, db } = openStore(t);
    const id = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: revA });
    const writer = new TaskWriter(store, id, log);
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM run_tasks WHERE run_id = ?').get(id) as { n: number }).n;
    for (let i = 0; i < 3; i++) writer.add(task({ task: `task ${i}` }));
    assert.equal(count(), 0, 'nothing written within the burst');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(store.events(id, 0, 10).map((e) => e.task), ['task 0', 'task 1', 'task 2']);
    writer.add(task({ task: 'last' }));
    writer.flush();
    assert.equal(count(), 4);
  });

  it('keeps the other results of a burst when one cannot be stored, and logs that one', async (t) => {
    const { store } = openStore(t);
    const id = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: revA });
    const lines: string[] = [];
    const writer = new TaskWriter(store, id, pino({ level: 'error' }, { write: (line: string) => lines.push(line) }));
    writer.add(task({ task: 'before' }));
    writer.add(task({ task: 'broken', host: null as unknown as string }));
    writer.add(task({ task: 'after' }));
    writer.flush();
    assert.deepEqual(store.events(id, 0, 10).map((e) => e.task), ['before', 'after']);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /"task":"broken".*could not record a task result/);
  });
});
