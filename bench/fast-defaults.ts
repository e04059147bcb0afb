/**
 * Benchmark 0 of issue 12: fleetcd's Ansible defaults (pipelining, ControlPersist per target, a jsonfile fact
 * cache with `gathering: smart`) against plain `ansible-playbook --check --diff` with Ansible's defaults, on two
 * sshd hosts with a playbook that gathers facts and runs a dozen file/template tasks (one host drifted).
 *
 * Interleaved rounds of three runs, each from cold SSH connections (as a scheduled check every interval meets
 * them; ControlPersist lasts 60 s):
 *   A  raw ansible-playbook, Ansible's defaults (only its control sockets in a private folder);
 *   B  a check through the fleetcd daemon, facts cached by the previous run (within the target's interval);
 *   C  the same with the fact cache emptied first (an expired cache: pipelining and ControlPersist alone).
 * fleetcd's time is the run's finishedAt minus the time the request was sent.
 *
 *   npm run build && node --import tsx bench/fast-defaults.ts [--quick] [--rounds 5]
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ansiblePlaybook, daemonCheck, driftedWebTarget } from './fixture.js';
import { closeControlMasters, commandLine, emit, envWithoutAnsible, median, option, progress, round, runBench, series } from './lib.js';

const rounds = option('--rounds', 5, 2);

await runBench(async () => {
  const { dir, d, cwd } = await driftedWebTarget('fleetcd-bench-defaults-');

  const rawSsh = join(dir, 'raw-ssh');
  const fleetSsh = join(d.stateDir, 'work', 'ssh');
  const factDir = join(d.stateDir, 'work', 'facts', 'web');
  const rawEnv = envWithoutAnsible({ ANSIBLE_SSH_CONTROL_PATH_DIR: rawSsh });
  const gathered = (runId: number): boolean => readFileSync(join(d.stateDir, 'logs', `run-${runId}.log`), 'utf8').includes('TASK [Gathering Facts]');

  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  const problems: string[] = [];
  let renewed = 0;
  const cachedAt = (): number => statSync(join(factDir, 'host1'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  for (let r = -1; r < rounds; r++) {
    await closeControlMasters(rawSsh);
    const raw = await ansiblePlaybook(cwd, ['-i', 'inventories/web.yml', '--check', '--diff', 'playbooks/site.yml'], rawEnv);
    await closeControlMasters(fleetSsh);
    const before = cachedAt();
    const warm = await daemonCheck(d, ['web']);
    if (cachedAt() !== before) renewed++;
    await closeControlMasters(fleetSsh);
    rmSync(factDir, { recursive: true, force: true });
    const cold = await daemonCheck(d, ['web']);
    if (r < 0) continue; // warm-up
    if (gathered(warm.runs[0]!.id)) problems.push(`round ${r}: the cached-facts run gathered facts`);
    if (!gathered(cold.runs[0]!.id)) problems.push(`round ${r}: the emptied-cache run did not gather facts`);
    a.push(raw.ms);
    b.push(warm.ms);
    c.push(cold.ms);
    progress(`round ${r + 1}/${rounds}: ansible defaults ${round(raw.ms / 1000)} s, fleetcd ${round(warm.ms / 1000)} s, fleetcd cold cache ${round(cold.ms / 1000)} s`);
  }
  const ratio = (x: number[]): number => round(median(x) / median(a), 3);
  emit({
    id: '0',
    title: "Fast Ansible defaults: fleetcd's settings against Ansible's defaults (2 sshd hosts, facts, 12 tasks)",
    command: commandLine('fast-defaults.ts'),
    figures: [
      { name: 'fleetcd defaults (facts cached) / Ansible defaults', value: ratio(b), unit: '×', goal: { op: '<=', value: 0.75 }, how: 'median B / median A' },
      { name: 'fleetcd defaults, fact cache expired / Ansible defaults', value: ratio(c), unit: '×', how: 'median C / median A' },
      { name: 'Ansible defaults (A), median', value: round(median(a) / 1000), unit: 's' },
      { name: 'fleetcd, facts cached (B), median', value: round(median(b) / 1000), unit: 's' },
      { name: 'fleetcd, fact cache expired (C), median', value: round(median(c) / 1000), unit: 's' },
    ],
    series: [
      series('A: ansible-playbook --check --diff, Ansible defaults', 's', a.map((v) => v / 1000)),
      series('B: fleetcd check via API, facts cached', 's', b.map((v) => v / 1000)),
      series('C: fleetcd check via API, fact cache emptied', 's', c.map((v) => v / 1000)),
      series('B/A per round', '×', b.map((v, i) => v / a[i]!), 3),
    ],
    notes: [
      'Every run starts from cold SSH connections (masters closed before it), as a check every 15 m finds them.',
      "Ansible's defaults include ControlPersist=60s within a run; fleetcd adds pipelining, the fact cache and drops ssh -C.",
      `A run that used the cached facts renewed the cache entry's time in ${renewed} of ${rounds + 1} runs: the cache expires one interval after the facts were gathered, however often they are used.`,
      ...problems,
    ],
  });
}, 20 * 60_000);
