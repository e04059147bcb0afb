import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import type { RunList, RunSummary } from '../../src/api/schemas.js';
import { nextCheckDelay } from '../../src/reconcile/schedule.js';
import { windowState } from '../../src/reconcile/windows.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { sleep, waitFor } from '../helpers/wait.js';

describe('scheduling, pure parts', () => {
  it('spreads a check by its jitter around the interval, never beyond it', () => {
    const policy = { intervalMs: 60_000, jitter: 0.2 };
    assert.equal(nextCheckDelay(policy, () => 0), 54_000);
    assert.equal(nextCheckDelay(policy, () => 0.5), 60_000);
    assert.equal(nextCheckDelay(policy, () => 1), 66_000);
    assert.equal(nextCheckDelay({ intervalMs: 60_000, jitter: 0 }, Math.random), 60_000);
  });

  it('knows when a window is open, when it closes and when the next opens, in its time zone', () => {
    const weekdays = [{ cron: '0 2 * * 1-5', durationMs: 7_200_000, timezone: 'Europe/Berlin' }];
    // 01:30 UTC on Monday 30 November 2026 is 02:30 in Berlin: inside the window that opened at 01:00 UTC.
    assert.deepEqual(windowState(weekdays, new Date('2026-11-30T01:30:00Z')), { open: true, closesAt: new Date('2026-11-30T03:00:00Z') });
    const closed = windowState(weekdays, new Date('2026-12-04T03:00:00Z'));
    assert.equal(closed.open, false);
    assert.deepEqual(closed.open ? undefined : closed.opensAt, new Date('2026-12-07T01:00:00Z'), 'Friday after the window: Monday 02:00 Berlin');
    assert.deepEqual(windowState([], new Date()), { open: true });
  });
});

const sleeper = `- hosts: all
  gather_facts: false
  tasks:
    - name: config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "managed\\n" }
    - name: take a while
      ansible.builtin.pause: { seconds: 2 }
`;

function inventory(root: string, hosts: string[]): string {
  const lines = ['all:', '  vars:', '    ansible_connection: local', '    ansible_python_interpreter: /usr/bin/python3', '  hosts:'];
  for (const host of hosts) lines.push(`    ${host}: { host_root: ${join(root, host)} }`);
  return `${lines.join('\n')}\n`;
}

/** Seconds into the current minute (the test's window opens at second 0 of each minute for 10 s). */
const phase = (): number => (Date.now() / 1000) % 60;

describe('schedules, windows and shared hosts on a running daemon', { timeout: 300_000 }, () => {
  let d: RunningDaemon;
  let root: string;
  const runsOf = async (target: string): Promise<RunSummary[]> => (await d.get<RunList>(`/api/v1/runs?target=${target}&limit=500`)).runs.reverse();

  before(async () => {
    root = join('/tmp', `fleetcd-schedule-${process.pid}`);
    for (const host of ['n1', 'shared', 'a1', 'b1', 'j1', 'j2', 'j3']) mkdirSync(join(root, host), { recursive: true });
    d = await startDaemonFleet(
      {
        'playbooks/site.yml': sleeper,
        'inventories/nightly.yml': inventory(root, ['n1']),
        'inventories/sa.yml': inventory(root, ['shared', 'a1']),
        'inventories/sb.yml': inventory(root, ['shared', 'b1']),
        'inventories/j1.yml': inventory(root, ['j1']),
        'inventories/j2.yml': inventory(root, ['j2']),
        'inventories/j3.yml': inventory(root, ['j3']),
      },
      [
        'reconcile: { mode: detect, interval: 1h, concurrency: 3 }',
        'targets:',
        '  nightly: { mode: apply, applyWindows: [{ cron: "0 * * * * *", duration: 10s }] }',
        '  j1: { interval: 4s, jitter: 60% }',
        '  j2: { interval: 4s, jitter: 60% }',
        '  j3: { interval: 4s, jitter: 60% }',
      ].join('\n'),
    );
  });

  after(async () => {
    await d?.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  test('targets that share a host never run at the same time, and both list the host', async () => {
    const startups = await waitFor('the startup checks of sa and sb', async () => {
      const [a, b] = await Promise.all([runsOf('sa'), runsOf('sb')]);
      const ended = (runs: RunSummary[]) => runs.find((r) => r.trigger === 'startup' && r.finishedAt);
      return ended(a) && ended(b) ? [ended(a)!, ended(b)!] : undefined;
    }, 60_000, 200);
    const [a, b] = startups.sort((x, y) => Date.parse(x.startedAt!) - Date.parse(y.startedAt!));
    assert.ok(Date.parse(b!.startedAt!) >= Date.parse(a!.finishedAt!), `${a!.target} ${a!.startedAt}–${a!.finishedAt}, ${b!.target} started ${b!.startedAt}`);
    const status = await d.status();
    for (const name of ['sa', 'sb']) assert.deepEqual(status.targets.find((t) => t.name === name)?.sharedHosts, ['shared']);
    assert.deepEqual(status.targets.find((t) => t.name === 'j1')?.sharedHosts, []);
  });

  test('scheduled checks come due at the interval spread by the jitter', async () => {
    const delays = await waitFor('two scheduled checks of each jittered target', async () => {
      const all: number[] = [];
      for (const name of ['j1', 'j2', 'j3']) {
        const runs = await runsOf(name);
        for (let i = 1; i < runs.length; i++) {
          if (runs[i]!.trigger !== 'schedule' || !runs[i - 1]!.finishedAt) continue;
          all.push(Date.parse(runs[i]!.queuedAt) - Date.parse(runs[i - 1]!.finishedAt!));
        }
      }
      return all.length >= 6 ? all : undefined;
    }, 90_000, 500);
    for (const delay of delays) assert.ok(delay >= 2800 && delay <= 5400, `a scheduled check came ${delay} ms after the previous ended (4s ± 30 %)`);
    const spread = Math.max(...delays) - Math.min(...delays);
    assert.ok(spread > 100, `the delays differ (spread ${spread} ms): ${delays.join(', ')}`);
  });

  test('drift found outside the window waits for it, is applied when it opens, and the apply is triggered by the window', async () => {
    // Drift by hand just after a window closed (one opens every minute for 10 s), and ask for a reconcile.
    await waitFor('nightly to be idle', async () => !(await d.target('nightly')).running, 60_000, 200);
    await waitFor('a moment outside the window', () => phase() > 12 && phase() < 16, 70_000, 100);
    rmSync(join(root, 'n1', 'app.conf'), { force: true });
    const asked = await d.reconcile({ targets: ['nightly'] });
    const [check] = await d.chain(asked.runs[0]!.id);
    assert.equal(check!.followedBy, null, 'the check found drift but did not apply it');
    assert.equal(check!.summary.changed, 1);
    const waiting = await d.target('nightly');
    assert.equal(waiting.waiting?.reason, 'window');
    assert.match(waiting.waiting!.detail, /^outside the apply windows; the next opens at .*\("0 \* \* \* \* \*" \(UTC\) for/);
    const apply = await waitFor('the apply in the window', async () => (await runsOf('nightly')).find((r) => r.kind === 'apply' && r.id > check!.id), 70_000, 200);
    assert.equal(apply!.trigger, 'window');
    assert.ok(Date.parse(apply!.queuedAt) % 60_000 < 10_000, `queued while the window was open (${apply!.queuedAt})`);
    await sleep(100);
    const chain = await d.chain(apply!.id);
    assert.equal(chain.at(-1)!.summary.changed, 0);
    assert.equal((await d.target('nightly')).waiting, null);
  });
});
