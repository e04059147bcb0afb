import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import Database from '../../src/store/sqlite.js';
import type { QueuedRuns, RunList } from '../../src/api/schemas.js';
import type { PreviewView } from '../../src/reconcile/previews.js';
import { killGroups, processes, type ProcessLine } from '../helpers/processes.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Issue 16: a daemon that dies — kill -9 here, outside systemd — takes the process groups of its runs and
 * gates with it, within 5 s, by the watchdog in each group; the next start still records the run
 * `interrupted`, and still reaps a group whose watchdog did not act (the second line of defence). Before,
 * the groups ran on until the next start (a gate's, which no record names, until it ended by itself).
 */

/** The issue's bound is 5 s; the wait allows twice that for a loaded 2-core machine, and the test reports the time. */
const deathBoundMs = 10_000;

/** The live (not zombie) processes of a process group. */
const members = (pgid: number): ProcessLine[] => processes().filter((p) => p.pgid === pgid && !p.stat.startsWith('Z'));
const watchdogOf = (pgid: number): ProcessLine | undefined => members(pgid).find((p) => p.args.endsWith(' fleetcd-watchdog'));

describe('a dead daemon’s runs and gates die with it', { timeout: 300_000 }, () => {
  let d: RunningDaemon;
  const gateMarker = `fleetcd-death-gate-${process.pid}`;

  before(async () => {
    d = await startDaemonFleet(
      {
        // check_mode: false, so the detect-mode check really sleeps.
        'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 617\n      check_mode: false\n',
        'playbooks/brief.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 3.17\n      check_mode: false\n',
        'inventories/slow.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
        'inventories/brief.yml': 'all:\n  hosts:\n    b1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
      },
      [
        'reconcile: { mode: detect, interval: 1h, concurrency: 4 }',
        'targets:',
        '  brief: { playbook: playbooks/brief.yml }',
        'gates:',
        `  - { name: long, timeout: 10m, command: [sh, -c, "sleep 60 & wait", ${gateMarker}] }`,
      ].join('\n'),
    );
  });

  after(async () => {
    await d?.cleanup();
    // A gate's command line does not name the test's folder, which cleanup() goes by.
    killGroups(processes().filter((p) => p.args.endsWith(gateMarker)).map((p) => p.pgid));
  });

  // Each test starts with a daemon answering, whatever the one before it did (or failed to do).
  beforeEach(async () => {
    const child = d.process.child;
    if (child.exitCode !== null || child.signalCode !== null) await d.restart();
  });

  /** A POST answered 202 (a restarted daemon answers 409 until its first fetch has a revision). */
  async function accepted<T>(path: string, body: unknown): Promise<T> {
    return waitFor(`POST ${path} to be accepted`, async () => {
      const answer = await d.post<T>(path, body);
      return answer.status === 202 ? answer.body : undefined;
    }, 30_000, 200);
  }

  /** The process group the record names for a run, once the run has one. */
  function recordedPgid(runId: number): number | undefined {
    const db = new Database(join(d.stateDir, 'fleetcd.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT pgid FROM runs WHERE id = ?').get(runId) as { pgid: number | null } | undefined;
      return row?.pgid ?? undefined;
    } finally {
      db.close();
    }
  }

  /** The running run of `slow` and its process group, once its `sleep 617` is going. */
  async function sleepingRun(): Promise<{ id: number; pgid: number }> {
    return waitFor('the slow run to be in its sleep', async () => {
      const { runs } = await d.get<RunList>('/api/v1/runs?target=slow');
      const run = runs.find((r) => r.status === 'running');
      const pgid = run && recordedPgid(run.id);
      return run && pgid && members(pgid).some((p) => p.args === 'sleep 617') ? { id: run.id, pgid } : undefined;
    }, 60_000, 100);
  }

  /** kill -9 of the daemon, then how long until no process of `pgid` is left (fails past the bound). */
  async function killAndTimeGroup(pgid: number, what: string): Promise<number> {
    const killedAt = performance.now();
    await d.kill9();
    await waitFor(`${what} (group ${pgid}) to be gone after kill -9 of the daemon`, () => members(pgid).length === 0, deathBoundMs, 20).catch(
      (error: Error) => assert.fail(`${error.message}; left: ${members(pgid).map((p) => `${p.pid} ${p.args}`).join('; ')}`),
    );
    return performance.now() - killedAt;
  }

  test('kill -9 of the daemon mid-run: the run’s whole process group is gone within 5 s, and the next start records it interrupted', async (t) => {
    const run = await sleepingRun();
    const ms = await killAndTimeGroup(run.pgid, 'the run');
    t.diagnostic(`run group gone ${Math.round(ms)} ms after kill -9`);
    assert.ok(ms < 5000, `gone in ${Math.round(ms)} ms, over the 5 s bound`);
    await d.restart();
    assert.equal((await d.run(run.id)).status, 'interrupted');
  });

  test('a run that ends normally had a watchdog in its group and leaves nothing of the group behind', async () => {
    const { runs } = await accepted<QueuedRuns>('/api/v1/reconcile', { targets: ['brief'], mode: 'check' });
    const id = runs[0]!.id;
    const pgid = await waitFor('the brief run to sleep', () => {
      const pgid = recordedPgid(id);
      return pgid && members(pgid).some((p) => p.args === 'sleep 3.17') ? pgid : undefined;
    }, 60_000, 50);
    assert.ok(watchdogOf(pgid), `a watchdog runs in the run's group: ${members(pgid).map((p) => p.args).join('; ')}`);
    const finished = await d.finished(id);
    assert.equal(finished.status, 'succeeded', finished.error ?? '');
    // The group is killed before the run is recorded; the wait covers only the kernel's teardown.
    await waitFor('the brief run’s group to be gone', () => members(pgid).length === 0, 5000, 50);
  });

  test('kill -9 of the daemon while a preview’s gate runs: the gate’s whole process group is gone within 5 s', async (t) => {
    const preview = await accepted<{ id: number }>('/api/v1/previews', { ref: 'main' });
    const gate = await waitFor('the gate and its sleep to run', () => {
      const sh = processes().find((p) => p.args.startsWith('sh -c') && p.args.endsWith(gateMarker) && !p.stat.startsWith('Z'));
      return sh && members(sh.pgid).some((p) => p.args === 'sleep 60') ? sh : undefined;
    }, 60_000, 50);
    const ms = await killAndTimeGroup(gate.pgid, 'the gate');
    t.diagnostic(`gate group gone ${Math.round(ms)} ms after kill -9`);
    assert.ok(ms < 5000, `gone in ${Math.round(ms)} ms, over the 5 s bound`);
    await d.restart();
    assert.equal((await d.get<PreviewView>(`/api/v1/previews/${preview.id}`)).status, 'cancelled');
  });

  test('when a run’s watchdog cannot act, the next start still kills the group the dead daemon left (second line)', async () => {
    const run = await sleepingRun();
    const watchdog = watchdogOf(run.pgid);
    assert.ok(watchdog, 'the run has a watchdog');
    // A stopped watchdog holds its end of the socket and reads nothing: the group outlives the daemon.
    process.kill(watchdog.pid, 'SIGSTOP');
    await d.kill9();
    assert.ok(members(run.pgid).some((p) => p.args === 'sleep 617'), 'the run is still going without its daemon');
    await d.restart();
    await waitFor('the restart to kill the left group', () => members(run.pgid).length === 0, 10_000, 50);
    assert.equal((await d.run(run.id)).status, 'interrupted');
  });
});
