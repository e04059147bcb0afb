/**
 * Trigger storm: a burst of `POST /api/v1/reconcile` for one target, paced evenly (1,000 in 10 s in full mode),
 * while the target's check outlasts the burst. Requests join the run that waits behind the running one, so the
 * whole burst gives at most two runs; the API answers each at once (p99 reported, never asserted).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { QueuedRuns } from '../../src/api/schemas.js';
import { startDaemonFleet } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { sleep } from '../../test/helpers/wait.js';
import { allRuns, idle, localHosts, memoryOf, mib, ms, percentile, scenario, type Mode, type ScenarioResult } from './common.js';

const sizes = {
  short: { requests: 200, seconds: 2, checkSeconds: 6 },
  full: { requests: 1000, seconds: 10, checkSeconds: 13 },
} as const;

/** The check sleeps only while `armed` exists in the host's sandbox, so the start-up run is quick. */
const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: a check that outlasts the storm while armed
      ansible.builtin.command: "sleep {{ seconds if (host_root ~ '/armed') is exists else 0 }}"
      check_mode: false
      changed_when: false
`;

export function triggerStorm(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('trigger-storm', 'Trigger storm', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-storm-');
    const d = await startDaemonFleet(
      {
        'playbooks/site.yml': playbook,
        'inventories/storm.yml': localHosts(sandbox, ['s1']),
        'inventories/calm.yml': localHosts(sandbox, ['c1']),
      },
      `reconcile: { interval: 1h, concurrency: 2 }\ntargets:\n  storm: { extraVars: { seconds: ${size.checkSeconds} } }`,
    );
    try {
      await idle(d);
      const pid = d.process.child.pid!;
      const lastBefore = Math.max(0, ...(await allRuns(d)).map((run) => run.id));
      writeFileSync(join(sandbox, 's1', 'armed'), '');
      r.step(
        `Started a daemon with targets \`storm\` (a check that sleeps ${size.checkSeconds} s) and \`calm\`; once idle, sent ` +
          `${size.requests} \`POST /api/v1/reconcile {"targets":["storm"]}\` evenly over ${size.seconds} s (open loop), ` +
          'while reading `GET /api/v1/status` every 50 ms.',
      );
      const memoryBefore = memoryOf(pid);
      const storm = await burst(d.base, d.token, size.requests, size.seconds * 1000);
      rmSync(join(sandbox, 's1', 'armed'), { force: true });
      const created = (await allRuns(d)).filter((run) => run.id > lastBefore && run.target === 'storm').reverse();
      const outlasted = created[0]?.status === 'running';
      const answeredIds = new Set(storm.answers.flatMap((a) => a.runs.map((run) => run.id)));
      r.check('every request is answered 202', storm.statuses.every((s) => s === 202), countsOf(storm.statuses));
      r.check(`${size.requests} requests give at most 2 runs`, created.length <= 2 && created.length >= 1, `${created.length} runs (#${created.map((run) => run.id).join(', #')}); answers named ${answeredIds.size} distinct run ids`);
      r.check('the answers name only those runs', [...answeredIds].every((id) => created.some((run) => run.id === id)), [...answeredIds].join(', '));
      await idle(d);
      const after = (await allRuns(d)).filter((run) => run.id > lastBefore && run.target === 'storm');
      r.check('the runs all end, and no more appear', after.length === created.length && after.every((run) => run.status === 'succeeded'), after.map((run) => `#${run.id} ${run.status}`).join(', '));
      r.check('zero 5xx, zero restarts', storm.statuses.every((s) => s < 500) && d.process.child.exitCode === null && d.process.child.pid === pid, `daemon pid ${pid} still running`);
      const memoryAfter = memoryOf(pid);
      r.figure('the first run was still running when the storm ended (so the bound is the queue’s, not luck)', outlasted ? 'yes' : 'no');
      r.figure('requests sent / span', `${size.requests} in ${ms(storm.spanMs)} (${Math.round(size.requests / (storm.spanMs / 1000))}/s)`);
      r.figure('POST latency p50 / p99 / max', `${ms(percentile(storm.latencies, 50))} / ${ms(percentile(storm.latencies, 99))} / ${ms(Math.max(...storm.latencies))} (goal: p99 ≤ 100 ms)`);
      r.figure('GET /api/v1/status latency during the storm p50 / p99 / max', `${ms(percentile(storm.statusLatencies, 50))} / ${ms(percentile(storm.statusLatencies, 99))} / ${ms(Math.max(...storm.statusLatencies))} (${storm.statusLatencies.length} reads)`);
      r.figure('daemon RSS before / after', `${mib(memoryBefore.rssKiB)} / ${mib(memoryAfter.rssKiB)}`);
    } finally {
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}

type Burst = { statuses: number[]; latencies: number[]; statusLatencies: number[]; answers: QueuedRuns[]; spanMs: number };

/** `count` reconcile requests at even intervals over `spanMs` (each sent on time, whatever the earlier ones do). */
async function burst(base: string, token: string, count: number, spanMs: number): Promise<Burst> {
  const result: Burst = { statuses: [], latencies: [], statusLatencies: [], answers: [], spanMs: 0 };
  let storming = true;
  const reader = (async () => {
    while (storming) {
      const started = performance.now();
      try {
        await (await fetch(`${base}/api/v1/status`, { signal: AbortSignal.timeout(10_000) })).arrayBuffer();
        result.statusLatencies.push(performance.now() - started);
      } catch {
        result.statusLatencies.push(Number.POSITIVE_INFINITY);
      }
      await sleep(50);
    }
  })();
  const t0 = performance.now();
  const requests: Promise<void>[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const due = t0 + (i * spanMs) / count;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      requests.push(reconcileOnce(base, token, result));
    }
    await Promise.all(requests);
  } finally {
    result.spanMs = performance.now() - t0;
    storming = false;
    await reader;
  }
  return result;
}

/** One `POST /api/v1/reconcile` for the storm target, its answer and time added to `result`. */
async function reconcileOnce(base: string, token: string, result: Burst): Promise<void> {
  const started = performance.now();
  const response = await fetch(`${base}/api/v1/reconcile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ targets: ['storm'] }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as QueuedRuns;
  result.latencies.push(performance.now() - started);
  result.statuses.push(response.status);
  if (response.status === 202) result.answers.push(body);
}

function countsOf(statuses: number[]): string {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return [...counts].map(([status, n]) => `${n}× ${status}`).join(', ');
}
