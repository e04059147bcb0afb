/**
 * kill -9 of the daemon while a run is going, then a restart: the time from spawning the new daemon to its API
 * answering with that run `interrupted` (its process group already stopped). Median of 5.
 *
 *   node --import tsx bench/crash-recovery.ts [--rounds 5]
 */
import { join } from 'node:path';
import { startDaemonFleet } from '../test/helpers/running-daemon.js';
import { processesMentioning } from '../test/helpers/processes.js';
import { waitFor } from '../test/helpers/wait.js';
import type { RunList } from '../src/api/schemas.js';
import { median } from './lib.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 5;

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.command: sleep 317
      check_mode: false
`;

const d = await startDaemonFleet(
  { 'playbooks/site.yml': playbook, 'inventories/slow.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n' },
  'reconcile: { interval: 1h }',
);
const times: number[] = [];
try {
  for (let round = 0; round < rounds; round++) {
    const running = await waitFor('a running run', async () => {
      const { runs } = await d.get<RunList>('/api/v1/runs?target=slow&limit=5');
      const run = runs.find((r) => r.status === 'running');
      return run && processesMentioning('sleep 317').length === 1 ? run : undefined;
    }, 60_000, 50);
    await d.kill9();
    const spawned = Date.now();
    d.process = (await import('../test/helpers/daemon.js')).spawnDaemon(d.configFile, { FLEETCD_LOG_LEVEL: 'warn' });
    await waitFor('the run interrupted', async () => (await d.run(running.id)).status === 'interrupted' || undefined, 30_000, 10);
    times.push(Date.now() - spawned);
    // The restarted daemon's own start-up run is the next round's run.
  }
  console.log(JSON.stringify({ rounds, restartToInterruptedMs: { median: median(times), all: times }, stateDir: join(d.stateDir) }, null, 2));
} finally {
  await d.cleanup();
}
