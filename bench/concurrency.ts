/**
 * Benchmark 3 of issue 12: the concurrency cap. 8 targets (one local-connection host each) whose playbook waits
 * 3 s, all checked at once through the API at `reconcile.concurrency` 1, 2, 4 and 8 (changed by SIGHUP, as an
 * operator would). Reports the wall time (newest finishedAt minus the request time) against the ideal
 * ceil(8/c) × one target's run alone, and the most ansible-playbook runs seen at once below the daemon
 * (processes named ansible-playbook whose parent is not one, sampled every 100 ms), which must never exceed c.
 *
 *   npm run build && node --import tsx bench/concurrency.ts [--quick] [--rounds 5]
 */
import type { StatusView } from '../src/api/schemas.js';
import { waitFor } from '../test/helpers/wait.js';
import { daemonCheck, daemonStarted, startBenchDaemon } from './fixture.js';
import { commandLine, emit, type Figure, median, option, progress, round, runBench, sampler, series, type Series, topAnsibleProcesses } from './lib.js';

const rounds = option('--rounds', 5, 1);
const levels = [1, 2, 4, 8] as const;
const targets = Array.from({ length: 8 }, (_, i) => `t${i}`);

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: wait 3 s
      ansible.builtin.pause: { seconds: 3 }
`;

await runBench(async () => {
  const files: Record<string, string> = { 'playbooks/site.yml': playbook };
  for (const [i, name] of targets.entries()) {
    files[`inventories/${name}.yml`] = `all:\n  hosts:\n    h${i}: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n`;
  }
  const config = (c: number): string => `reconcile: { interval: 1h, concurrency: ${c}, shutdownGrace: 0s }`;
  const d = await startBenchDaemon(files, config(8));
  await daemonStarted(d, targets.length);
  const daemonPid = d.process.child.pid!;

  const setConcurrency = async (c: number): Promise<void> => {
    const before = (await d.get<StatusView>('/api/v1/status')).config.loadedAt;
    d.writeConfig(config(c));
    d.process.child.kill('SIGHUP');
    await waitFor(`the config with concurrency ${c}`, async () => (await d.get<StatusView>('/api/v1/status')).config.loadedAt !== before, 10_000, 50);
  };

  const single: number[] = [];
  const wall = new Map<number, number[]>(levels.map((c) => [c, []]));
  const peaks = new Map<number, number[]>(levels.map((c) => [c, []]));
  for (let r = 0; r < rounds; r++) {
    single.push((await daemonCheck(d, ['t0'])).ms);
    for (const c of levels) {
      await setConcurrency(c);
      const seen = sampler(() => topAnsibleProcesses(daemonPid), 100);
      const run = await daemonCheck(d, targets);
      const { peak } = seen.stop();
      wall.get(c)!.push(run.ms);
      peaks.get(c)!.push(peak);
      progress(`round ${r + 1}/${rounds}: concurrency ${c}: ${round(run.ms / 1000)} s, at most ${peak} ansible-playbook at once`);
    }
  }
  const one = median(single);
  const figures: Figure[] = [{ name: 'one target alone (single run), median', value: round(one / 1000), unit: 's' }];
  const all: Series[] = [series('single run', 's', single.map((v) => v / 1000))];
  for (const c of levels) {
    const ideal = Math.ceil(targets.length / c) * one;
    figures.push(
      { name: `c=${c}: wall time, median`, value: round(median(wall.get(c)!) / 1000), unit: 's', how: `ideal ceil(8/${c}) × single = ${round(ideal / 1000)} s` },
      { name: `c=${c}: wall / ideal`, value: round(median(wall.get(c)!) / ideal, 3), unit: '×' },
      { name: `c=${c}: most ansible-playbook runs at once`, value: Math.max(...peaks.get(c)!), goal: { op: '<=', value: c } },
    );
    all.push(series(`c=${c}: wall`, 's', wall.get(c)!.map((v) => v / 1000)), series(`c=${c}: peak ansible-playbook`, 'processes', peaks.get(c)!, 0));
  }
  emit({
    id: '3',
    title: 'Concurrency: 8 targets waiting 3 s each, reconcile.concurrency 1, 2, 4, 8',
    command: commandLine('concurrency.ts'),
    figures,
    series: all,
    notes: [
      'Wall time runs from the POST to the newest finishedAt of the 8 runs; the ideal assumes no cost beyond one run alone.',
      'Above c=2 the 8 Ansible start-ups (about 1 CPU-second each) compete for the 2 cores: expect wall/ideal to grow with c.',
    ],
  });
}, 20 * 60_000);
