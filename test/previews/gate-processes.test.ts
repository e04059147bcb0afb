import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PreviewView } from '../../src/reconcile/previews.js';
import { processes } from '../helpers/processes.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { waitFor } from '../helpers/wait.js';

/*
 * A gate whose program backgrounds a child and waits for it (`sleep 40 & …; wait`): its timeout, a cancel of
 * the preview waiting for it, and a daemon shutdown must each end the whole process group — the `sleep` too —
 * within the README's bound: the gate's timeout plus the 5 s kill grace. Before, only the leader was signalled,
 * the `sleep` kept the output pipe open, and the gate "timed out after 3s" 40 s later.
 */

const killGraceMs = 5000;
// Scheduling on a shared 2-core machine: a margin, not a fixed sleep.
const marginMs = 4000;

/** The sh -c of a gate, found by the marker passed as its $0, and the sleep in its process group. */
function gateProcesses(marker: string, sleep: string): { sh: number; sleep: number } | undefined {
  const all = processes().filter((p) => !p.stat.startsWith('Z'));
  const sh = all.find((p) => p.args.startsWith('sh -c') && p.args.endsWith(marker));
  const child = sh && all.find((p) => p.pgid === sh.pgid && p.args === sleep);
  return sh && child ? { sh: sh.pid, sleep: child.pid } : undefined;
}

const alive = (pid: number): boolean => processes().some((p) => p.pid === pid && !p.stat.startsWith('Z'));

describe('policy gates end when they are told to', { timeout: 180_000 }, () => {
  let d: RunningDaemon;
  /** The first preview: it waits for both gates, the long one until it is cancelled. */
  let first: number;
  const marker = (name: string): string => `fleetcd-gate-test-${process.pid}-${name}`;
  const gate = (name: string, sleep: string, timeout: string): string =>
    `  - { name: ${name}, timeout: ${timeout}, command: [sh, -c, "${sleep} & echo started; wait", ${marker(name)}] }`;

  before(async () => {
    d = await startDaemonFleet(
      {
        'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n',
        'inventories/web.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
      },
      ['reconcile: { mode: detect, interval: 1h }', 'gates:', gate('slow', 'sleep 40', '3s'), gate('long', 'sleep 41', '10m')].join('\n'),
    );
  });

  after(async () => {
    await d?.cleanup();
  });

  async function startPreview(): Promise<number> {
    const { status, body } = await d.post<{ id: number }>('/api/v1/previews', { ref: 'main' });
    assert.equal(status, 202, JSON.stringify(body));
    return body.id;
  }

  test('a gate over its timeout is reported timed out and its backgrounded sleep is gone within timeout + kill grace', async () => {
    const id = (first = await startPreview());
    const started = await waitFor('the slow gate to run', () => gateProcesses(marker('slow'), 'sleep 40'), 30_000, 50);
    const startedAt = Date.now();
    await waitFor('the sleep of the timed-out gate to be gone', () => !alive(started.sleep), 3000 + killGraceMs + marginMs, 100);
    const view = await waitFor('the timed-out gate to be reported', async () => {
      const preview = await d.get<PreviewView>(`/api/v1/previews/${id}`);
      return preview.gates.some((g) => g.gate === 'slow') ? preview : undefined;
    }, killGraceMs + marginMs, 100);
    assert.ok(Date.now() - startedAt < 3000 + killGraceMs + marginMs, 'reported within timeout + grace');
    const slow = view.gates.find((g) => g.gate === 'slow')!;
    assert.equal(slow.ok, false);
    assert.match(slow.output, /^timed out after 3s/);
    assert.ok(!alive(started.sh), 'the gate itself is gone too');
  });

  test('cancelling the preview stops the gate it waits for, its whole process group, and keeps no result', async () => {
    const id = first;
    const long = await waitFor('the long gate to run', () => gateProcesses(marker('long'), 'sleep 41'), 30_000, 50);
    const cancel = await d.post(`/api/v1/previews/${id}/cancel`);
    assert.equal(cancel.status, 202, JSON.stringify(cancel.body));
    await waitFor('the cancelled gate and its sleep to be gone', () => !alive(long.sleep) && !alive(long.sh), killGraceMs + marginMs, 100);
    const view = await d.get<PreviewView>(`/api/v1/previews/${id}`);
    assert.equal(view.status, 'cancelled');
    assert.deepEqual(view.gates.map((g) => g.gate), ['slow'], 'a stopped gate said nothing about the revision');
  });

  test('a daemon shutdown stops a running gate with its group and exits cleanly within the kill grace', async () => {
    await startPreview();
    const long = await waitFor('the long gate to run again', () => gateProcesses(marker('long'), 'sleep 41'), 30_000, 50);
    const stoppedAt = Date.now();
    const code = await d.stop();
    assert.equal(code, 0, d.process.output());
    assert.ok(Date.now() - stoppedAt < killGraceMs + marginMs + 5000, `stopped in ${Date.now() - stoppedAt} ms`);
    await waitFor('the gate and its sleep to be gone', () => !alive(long.sleep) && !alive(long.sh), marginMs, 100);
  });
});
