/**
 * Benchmark 4 of issue 12: one target of 1,000 local-connection hosts, forks 50, three controller-side tasks
 * per host (3,000 task results, 1,000 of them changed). Interleaved pairs of raw ansible-playbook (fleetcd's
 * env minus its callback) and a check through the daemon's API. Reports the wall-time ratio, the daemon's peak
 * RSS during its runs (/proc/<pid>/status VmRSS every 200 ms), and the latency of GET /api/v1/runs/:id and
 * GET /api/v1/status for that run: one request of each per second during the run, 20 sequential ones after.
 * Ingestion of 100,000 synthetic events is bench/runner-events.ts (run-all runs it).
 *
 *   npm run build && node --import tsx bench/scale.ts [--quick] [--hosts 1000] [--pairs 3]
 */
import { join } from 'node:path';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { rawBigCheck, startBigFleet } from './big-fleet.js';
import { daemonCheck } from './fixture.js';
import { commandLine, emit, getLatencies, median, onCleanup, option, progress, round, rssMiB, runBench, sampler, series, sleep } from './lib.js';

const hosts = option('--hosts', 1000, 100);
const pairs = option('--pairs', 3, 1);

await runBench(async () => {
  const dir = tempDir('fleetcd-bench-scale-');
  onCleanup(() => removeDir(dir));
  const d = await startBigFleet(hosts);
  const pid = d.process.child.pid!;
  const raw: number[] = [];
  const fleet: number[] = [];
  const peaks: number[] = [];
  const baselines: number[] = [];
  const duringRun: number[] = [];
  const duringStatus: number[] = [];
  const afterRun: number[] = [];
  const afterStatus: number[] = [];
  let runId = 0;
  for (let p = 0; p < pairs; p++) {
    const a = await rawBigCheck(d, join(dir, 'raw'));
    raw.push(a.ms);
    baselines.push(rssMiB(pid));
    const rss = sampler(() => rssMiB(pid), 200);
    let running = true;
    // One reader at a light pace while the run goes: what a status page sees.
    const reader = (async () => {
      while (running) {
        await sleep(1000);
        if (!running || runId === 0) continue;
        duringRun.push(...(await getLatencies(d.base, `/api/v1/runs/${runId}`, 1)));
        duringStatus.push(...(await getLatencies(d.base, '/api/v1/status', 1)));
      }
    })();
    runId = 0;
    const b = await daemonCheck(d, ['big'], (ids) => (runId = ids[0]!));
    running = false;
    await reader;
    const { peak } = rss.stop();
    runId = b.runs[0]!.id;
    const summary = b.runs[0]!.summary;
    if (summary.hosts !== hosts) throw new Error(`run #${runId} recorded ${summary.hosts} hosts, not ${hosts}`);
    fleet.push(b.ms);
    peaks.push(peak);
    afterRun.push(...(await getLatencies(d.base, `/api/v1/runs/${runId}`, 20)));
    afterStatus.push(...(await getLatencies(d.base, '/api/v1/status', 20)));
    progress(`pair ${p + 1}/${pairs}: raw ${round(a.ms / 1000)} s, fleetcd ${round(b.ms / 1000)} s, daemon peak RSS ${round(peak, 0)} MiB`);
  }
  const max = (values: number[]): number => round(Math.max(...values));
  emit({
    id: '4',
    title: `Scale: one target of ${hosts} local hosts, forks 50, 3 controller-side tasks per host`,
    command: commandLine('scale.ts'),
    figures: [
      { name: 'fleetcd daemon check / raw ansible-playbook', value: round(median(fleet) / median(raw), 3), unit: '×', how: 'median / median' },
      { name: 'raw ansible-playbook, median', value: round(median(raw) / 1000), unit: 's' },
      { name: 'fleetcd daemon check, median', value: round(median(fleet) / 1000), unit: 's' },
      { name: "daemon's peak RSS during its runs", value: round(Math.max(...peaks), 1), unit: 'MiB', goal: { op: '<=', value: 150 } },
      { name: "daemon's RSS before a run, median", value: round(median(baselines), 1), unit: 'MiB' },
      { name: 'GET /api/v1/runs/:id after the run, median (max)', value: round(median(afterRun)), unit: 'ms', how: `max ${max(afterRun)} ms, n=${afterRun.length}` },
      { name: 'GET /api/v1/status after the run, median (max)', value: round(median(afterStatus)), unit: 'ms', how: `max ${max(afterStatus)} ms, n=${afterStatus.length}` },
      { name: 'GET /api/v1/runs/:id during the run, median (max)', value: round(median(duringRun)), unit: 'ms', how: `max ${max(duringRun)} ms, n=${duringRun.length}` },
      { name: 'GET /api/v1/status during the run, median (max)', value: round(median(duringStatus)), unit: 'ms', how: `max ${max(duringStatus)} ms, n=${duringStatus.length}` },
    ],
    series: [
      series('raw ansible-playbook', 's', raw.map((v) => v / 1000)),
      series('fleetcd daemon check', 's', fleet.map((v) => v / 1000)),
      series('daemon peak RSS per run', 'MiB', peaks, 1),
      series('GET /api/v1/runs/:id during runs', 'ms', duringRun, 1),
      series('GET /api/v1/status during runs', 'ms', duringStatus, 1),
    ],
    notes: [`Pairs run raw first, then fleetcd. The daemon logs at info, as in production. ${hosts} hosts × 3 tasks = ${hosts * 3} task results per run.`],
  });
}, (hosts >= 500 ? 60 : 15) * 60_000);
