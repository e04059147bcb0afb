/**
 * Benchmark 5 of issue 12: the API under load while benchmark 4's work runs. During a check of the big target
 * (1,000 local hosts, forks 50) through the daemon, autocannon (a child process, --json) loads
 * /api/v1/status, /api/v1/runs and /metrics in turn, SECONDS each. A/B in interleaved pairs: `ansible.nice` 0
 * (the default) and 10 (set by SIGHUP before the run). Reports p50/p99 per endpoint, errors, and the run's wall
 * time under load.
 *
 *   npm run build && node --import tsx bench/api-load.ts [--quick] [--hosts 1000] [--pairs 3] [--seconds 10] [--connections 10]
 */
import type { StatusView } from '../src/api/schemas.js';
import { waitFor } from '../test/helpers/wait.js';
import { bigConfig, startBigFleet } from './big-fleet.js';
import { daemonCheck } from './fixture.js';
import { autocannon, commandLine, emit, type Figure, type LoadReport, median, option, progress, round, runBench, series, type Series, sleep } from './lib.js';

const hosts = option('--hosts', 1000, 100);
const pairs = option('--pairs', 3, 1);
const seconds = option('--seconds', 10, 3);
const connections = option('--connections', 10);
const paths = ['/api/v1/status', '/api/v1/runs', '/metrics'] as const;
const variants = [0, 10] as const;

type Sample = { nice: number; runMs: number; loads: LoadReport[]; loadOutlivedRun: boolean };

await runBench(async () => {
  const d = await startBigFleet(hosts);
  const setNice = async (nice: number): Promise<void> => {
    const before = (await d.get<StatusView>('/api/v1/status')).config.loadedAt;
    d.writeConfig(bigConfig(nice));
    d.process.child.kill('SIGHUP');
    await waitFor(`the config with nice ${nice}`, async () => (await d.get<StatusView>('/api/v1/status')).config.loadedAt !== before, 10_000, 50);
  };
  const samples: Sample[] = [];
  for (let p = 0; p < pairs; p++) {
    for (const nice of variants) {
      await setNice(nice);
      let ended = false;
      const check = daemonCheck(d, ['big']).finally(() => (ended = true));
      await sleep(2000); // Ansible is parsing the inventory and starting its workers
      const loads: LoadReport[] = [];
      for (const path of paths) loads.push(await autocannon(`${d.base}${path}`, seconds, connections));
      const loadOutlivedRun = ended;
      const run = await check;
      samples.push({ nice, runMs: run.ms, loads, loadOutlivedRun });
      const text = loads.map((l) => `${l.url.replace(d.base, '')} p50 ${l.p50} p99 ${l.p99} ms, ${l.errors} errors`).join('; ');
      progress(`pair ${p + 1}/${pairs}, nice ${nice}: run ${round(run.ms / 1000)} s; ${text}`);
    }
  }
  const figures: Figure[] = [];
  const all: Series[] = [];
  for (const nice of variants) {
    const mine = samples.filter((s) => s.nice === nice);
    for (const [i, path] of paths.entries()) {
      const reports = mine.map((s) => s.loads[i]!);
      const errors = reports.reduce((sum, r) => sum + r.errors + r.non2xx, 0);
      figures.push(
        { name: `nice ${nice}: ${path} p99 (median of runs)`, value: round(median(reports.map((r) => r.p99))), unit: 'ms', goal: { op: '<=', value: 20 }, how: `p50 ${round(median(reports.map((r) => r.p50)))} ms, max ${Math.max(...reports.map((r) => r.max))} ms, ${round(median(reports.map((r) => r.rps)), 0)} req/s` },
        { name: `nice ${nice}: ${path} errors + non-2xx`, value: errors, goal: { op: '==', value: 0 } },
      );
      all.push(series(`nice ${nice}: ${path} p99`, 'ms', reports.map((r) => r.p99)), series(`nice ${nice}: ${path} p50`, 'ms', reports.map((r) => r.p50)));
    }
    figures.push({ name: `nice ${nice}: the run's wall time under load, median`, value: round(median(mine.map((s) => s.runMs)) / 1000), unit: 's' });
    all.push(series(`nice ${nice}: run wall time`, 's', mine.map((s) => s.runMs / 1000)));
  }
  const outlived = samples.filter((s) => s.loadOutlivedRun).length;
  emit({
    id: '5',
    title: `API under load: autocannon -c ${connections} -d ${seconds} per endpoint during a ${hosts}-host check, ansible.nice 0 vs 10`,
    command: commandLine('api-load.ts'),
    figures,
    series: all,
    notes: [
      `autocannon runs as a child process on the same 2 cores: it takes CPU from the daemon and Ansible too. The three endpoints are loaded one after another within one run.`,
      ...(outlived > 0 ? [`In ${outlived} of ${samples.length} runs the load went on after the run ended (the run is too short for the load): those latencies are partly of an idle daemon.`] : []),
    ],
    detail: samples,
  });
}, (hosts >= 500 ? 60 : 15) * 60_000);
