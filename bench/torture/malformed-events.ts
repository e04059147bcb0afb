/**
 * Malformed events: a repository whose filter plugin writes garbage to fleetcd's event pipe from inside the run
 * (as the reproduction did): `{"event": "stats"}`, wrong types, unknown kinds, non-JSON, binary, empty
 * lines and lines over the 4 MiB cap, many times over. The daemon must stay up, the runs end with their real
 * outcome, every bad line is counted on its run (and the first logged once), and nothing is left behind.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunDetail } from '../../src/api/schemas.js';
import { noiseFilterPlugin, noisyPlaybook, sentCount } from '../../test/helpers/noisy-repo.js';
import { processesMentioning } from '../../test/helpers/processes.js';
import { startDaemonFleet } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { allRuns, idle, localHosts, memoryOf, mib, ms, scenario, watchServing, type Mode, type ScenarioResult } from './common.js';

/** Rounds of the plugin's 13 lines (one of them 5 MiB) per run, and runs of the noisy target. */
const sizes = {
  short: { rounds: 4, runs: 2 },
  full: { rounds: 40, runs: 4 },
} as const;

const linesPerRound = 13;
const logMessage = 'malformed line on the event pipe';

export function malformedEvents(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('malformed-events', 'Malformed events on the callback pipe', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-noise-');
    const d = await startDaemonFleet(
      {
        'playbooks/site.yml': noisyPlaybook,
        'playbooks/filter_plugins/noise.py': noiseFilterPlugin(size.rounds),
        'inventories/one.yml': localHosts(sandbox, ['h1']),
        'inventories/two.yml': localHosts(sandbox, ['h2']),
      },
      // Two targets at once: each run has its own pipe, and its own count.
      'reconcile: { mode: detect, interval: 1h, concurrency: 2 }',
    );
    let stopped = false;
    try {
      const pid = d.process.child.pid!;
      const watch = await watchServing(d);
      r.step(
        `Started a daemon over a repository whose \`playbooks/filter_plugins/noise.py\` writes ${size.rounds} rounds of ${linesPerRound} ` +
          'malformed lines (`{"event": "stats"}`, wrong types, unknown kinds, non-JSON, binary, an empty line, a 5 MiB line) ' +
          `straight to the event pipe from Ansible's worker, in every run of its two targets (\`one\`, \`two\`, run side by side); ` +
          `after the start-up checks, ${size.runs - 1} more rounds of checks of both, one after the other, while \`/healthz\` was read every 100 ms.`,
      );
      await idle(d, 300_000);
      for (let i = 1; i < size.runs; i++) {
        await d.reconcile({ mode: 'check' });
        await idle(d, 300_000);
      }
      const served = await watch.stop();
      const runs = await Promise.all((await allRuns(d)).reverse().map((run) => d.run(run.id)));
      const sent = (host: string): number => sentCount(existsSync(join(sandbox, host, 'sent')) ? readFileSync(join(sandbox, host, 'sent'), 'utf8') : '');
      const counted = runs.reduce((sum, run) => sum + run.malformedEvents, 0);
      const outcome = (run: RunDetail): string => `#${run.id} ${run.target} ${run.status}, ${run.summary.hosts} host, ${run.summary.changed} changed, ${run.malformedEvents} malformed`;

      r.check('the daemon stays up and answers throughout', d.process.child.exitCode === null && d.process.child.pid === pid && served.failures.length === 0, `pid ${pid} running; ${served.latencies.length} answers, ${served.failures.length} failures, longest silence ${ms(served.longestSilenceMs)}`);
      r.check(
        `${size.runs * 2} runs end with their real outcome: succeeded, 1 host, 1 change`,
        runs.length === size.runs * 2 && runs.every((run) => run.status === 'succeeded' && run.summary.hosts === 1 && run.summary.changed === 1),
        runs.map(outcome).join('; '),
      );
      r.check('every malformed line is counted on its run', counted === sent('h1') + sent('h2') && counted === size.runs * 2 * size.rounds * linesPerRound, `${counted} counted, the plugin wrote ${sent('h1') + sent('h2')}`);
      const logged = d.process.output().split('\n').filter((line) => line.includes(logMessage));
      r.check('one log line per run with malformed lines', logged.length === runs.filter((run) => run.malformedEvents > 0).length, `${logged.length} lines`);
      const memory = memoryOf(pid);
      r.figure('malformed lines / bytes written per run', `${size.rounds * linesPerRound} / ${mib((size.rounds * (5 * 1024 * 1024 + 1000)) / 1024)}`);
      r.figure('run durations', runs.map((run) => ms(Date.parse(run.finishedAt!) - Date.parse(run.startedAt!))).join(', '));
      r.figure('daemon RSS / peak after', `${mib(memory.rssKiB)} / ${mib(memory.peakKiB)}`);

      const code = await d.stop();
      stopped = true;
      const left = [...processesMentioning(d.stateDir), ...processesMentioning(sandbox)];
      r.check('after a stop: exit 0, no lock file, no process left', code === 0 && !existsSync(join(d.stateDir, 'fleetcd.pid')) && left.length === 0, `exit ${code}; ${left.length} processes: ${left.map((p) => p.args.slice(0, 80)).join(' | ') || 'none'}`);
    } finally {
      if (!stopped) r.defect(d.process.output().split('\n').slice(-20).join('\n'));
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}
