/**
 * Benchmark 1 of issue 12: what fleetcd adds to Ansible on equal settings. One target (two sshd hosts, the
 * realistic playbook, one host drifted); interleaved rounds of
 *   raw      ansible-playbook -i INV --check --diff site.yml, in the env fleetcd builds (ansibleEnv: pipelining,
 *            ControlPersist, the fact cache) minus fleetcd's event callback, spawn to exit;
 *   one-shot node bin/fleetcd check web --config C (its own state dir, no daemon), spawn to exit;
 *   daemon   POST /api/v1/reconcile {targets: [web], mode: check}: the run's finishedAt minus the request time.
 * Each has its own control sockets and fact cache, all warm (a warm-up round first), so only fleetcd differs.
 *
 *   npm run build && node --import tsx bench/overhead.ts [--quick] [--rounds 5]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ansiblePlaybook, daemonCheck, driftedWebTarget, fleetcdSettingsEnv } from './fixture.js';
import { commandLine, emit, median, option, progress, projectDir, round, runBench, series, timed } from './lib.js';

const rounds = option('--rounds', 5, 2);
const fleetcd = join(projectDir, 'bin', 'fleetcd');

await runBench(async () => {
  const { dir, d, cwd } = await driftedWebTarget('fleetcd-bench-overhead-');

  const oneShotConfig = join(dir, 'one-shot.yaml');
  writeFileSync(
    oneShotConfig,
    `repository: { url: ${JSON.stringify(d.repo.origin)}, pollInterval: 1h }\nstateDir: ${JSON.stringify(join(dir, 'one-shot-state'))}\nreconcile: { interval: 15m, jitter: 0% }\n`,
  );
  const rawEnv = fleetcdSettingsEnv(cwd, join(dir, 'raw'));
  const rawArgs = ['-i', 'inventories/web.yml', '--check', '--diff', 'playbooks/site.yml'];

  const raw: number[] = [];
  const oneShot: number[] = [];
  const daemon: number[] = [];
  const daemonStart: number[] = [];
  const nodeStart: number[] = [];
  for (let r = -1; r < rounds; r++) {
    const a = await ansiblePlaybook(cwd, rawArgs, rawEnv);
    const o = await timed(process.execPath, [fleetcd, 'check', 'web', '--config', oneShotConfig], { cwd: projectDir, timeoutMs: 10 * 60_000 });
    if (o.code !== 0 && o.code !== 2) throw new Error(`fleetcd check exited ${o.code}: ${o.stderr.slice(-2000)}`);
    const c = await daemonCheck(d, ['web']);
    const v = await timed(process.execPath, [fleetcd, '--version'], { cwd: projectDir });
    if (r < 0) continue;
    raw.push(a.ms);
    oneShot.push(o.ms);
    daemon.push(c.ms);
    daemonStart.push(c.startMs);
    nodeStart.push(v.ms);
    progress(`round ${r + 1}/${rounds}: raw ${round(a.ms / 1000)} s, one-shot ${round(o.ms / 1000)} s, daemon ${round(c.ms / 1000)} s`);
  }
  const ratio = (x: number[]): number => round(median(x) / median(raw), 3);
  emit({
    id: '1',
    title: 'Overhead against raw Ansible on equal settings (one target, 2 sshd hosts, realistic playbook)',
    command: commandLine('overhead.ts'),
    figures: [
      { name: 'daemon check (API) / raw ansible-playbook', value: ratio(daemon), unit: '×', goal: { op: '<=', value: 1.05 }, how: 'median daemon / median raw' },
      { name: 'one-shot `fleetcd check` / raw ansible-playbook', value: ratio(oneShot), unit: '×', goal: { op: '<=', value: 1.15 }, how: 'median one-shot / median raw' },
      { name: 'raw ansible-playbook, median', value: round(median(raw) / 1000), unit: 's' },
      { name: 'daemon − raw, median difference', value: round((median(daemon) - median(raw)) / 1000), unit: 's' },
      { name: 'one-shot − raw, median difference', value: round((median(oneShot) - median(raw)) / 1000), unit: 's' },
      { name: 'daemon: request → run started (startedAt), median', value: round(median(daemonStart)), unit: 'ms' },
      { name: '`node bin/fleetcd --version` (Node start + CLI load), median', value: round(median(nodeStart) / 1000), unit: 's' },
    ],
    series: [
      series('raw ansible-playbook (fleetcd env minus its callback)', 's', raw.map((v) => v / 1000)),
      series('one-shot fleetcd check', 's', oneShot.map((v) => v / 1000)),
      series('daemon check via API', 's', daemon.map((v) => v / 1000)),
      series('daemon: request → startedAt', 'ms', daemonStart, 0),
      series('node bin/fleetcd --version', 's', nodeStart.map((v) => v / 1000)),
    ],
    notes: [
      "Raw Ansible gets fleetcd's environment from ansibleEnv (src/runner/env.ts) without fleetcd's event callback, so the callback's cost counts as fleetcd's.",
      'SSH control masters and fact caches are warm for all three (each has its own; a warm-up round is discarded).',
    ],
  });
}, 20 * 60_000);
