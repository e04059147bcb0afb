import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { QueuedRuns, ReconcileBody, RunDetail, StatusView } from '../../api/schemas.js';
import { FleetError } from '../../errors.js';
import { readHolder } from '../../store/state-lock.js';
import { type Cli, verb } from '../context.js';
import { exitCodes, stateUmask } from '../outcome.js';
import { reportChains, waitAndReport } from '../wait.js';
import { jsonOption, reconcileExitCodes } from './options.js';

type Verb = 'check' | 'apply';

/** The verbs that work on this host's state directory: check and apply in the foreground, backup. */
export function registerLocalVerbs(program: Command): void {
  for (const [name, summary, description] of [
    ['check', 'one check in the foreground; never applies', 'one check of the targets in the foreground, printing per-host results and the drift as diffs; never applies'],
    ['apply', 'one reconcile in the foreground that applies', 'one reconcile in the foreground that applies the drift it finds, whatever the target mode'],
  ] as const) {
    program
      .command(name)
      .summary(summary)
      .description(description)
      .argument('[targets...]', 'the targets (default: all)')
      .addOption(jsonOption())
      .addHelpText('after', foregroundHelp(name))
      .action(verb((cli, targets: string[], options: { json?: boolean }) => foreground(cli, name, targets, options.json === true)));
  }

  program
    .command('backup')
    .summary('an online copy of the database')
    .description("an online copy of the state directory's database, safe while the daemon runs (no daemon needed, no lock taken)")
    .argument('<file>', 'where to write the copy (must not exist yet)')
    .addHelpText('after', '\nThe copy is checked with PRAGMA integrity_check before it is reported good; exit 1 otherwise.')
    .action(
      verb(async (cli, file: string) => {
        const { backupDatabase } = await import('../../store/backup.js');
        const stateDir = cli.config().stateDir;
        const copy = await backupDatabase(stateDir, resolve(file));
        cli.print(`copied ${join(stateDir, 'fleetcd.db')} to ${copy.file}: ${size(copy.bytes)}, ${copy.runs} runs, integrity ${copy.integrity}`);
        return exitCodes.inSync;
      }),
    );
}

function foregroundHelp(name: Verb): string {
  return `
Without a daemon, it runs Ansible here and records the runs in the state directory's database (like
ansible-pull, but on record). While \`fleetcd serve\` owns the state directory, it asks that daemon instead
(like \`fleetcd reconcile --${name} --wait\`): same output, same exit codes.
${reconcileExitCodes}`;
}

/** check/apply: in-process, unless a running daemon owns the state directory, which is then asked. */
async function foreground(cli: Cli, verb: Verb, targets: string[], json: boolean): Promise<number> {
  const config = cli.config();
  const [{ runOnce }, { createLogger }, { installCrashHandlers }] = await Promise.all([import('../one-shot.js'), import('../../log.js'), import('../../crash.js')]);
  // It writes the same record as the daemon, with the same care (see `serve`).
  process.umask(stateUmask);
  const log = createLogger(process.env.FLEETCD_LOG_LEVEL ?? 'warn');
  installCrashHandlers(log);
  try {
    return await runOnce(config, log, verb, targets, {
      revision: (line) => {
        if (!json) cli.print(line);
      },
      chains: (chains: RunDetail[][]) => reportChains(cli, chains, json),
    });
  } catch (error) {
    const pid = daemonOwning(error, config.stateDir);
    if (pid === undefined) throw error;
    return askDaemon(cli, verb, targets, json, `${config.stateDir} belongs to fleetcd serve (pid ${pid})`);
  }
}

/** The pid of the `fleetcd serve` whose lock refused us, or undefined for any other error. */
function daemonOwning(error: unknown, stateDir: string): number | undefined {
  if (!(error instanceof FleetError) || error.reason !== 'conflict') return undefined;
  const [pid, role] = readHolder(join(stateDir, 'fleetcd.pid')) ?? [];
  if (role !== 'serve' || !pid || Number(pid) === process.pid) return undefined;
  return Number(pid);
}

/** The same reconcile, done by the daemon: `reconcile --check|--apply --wait`, printed like the in-process one. */
async function askDaemon(cli: Cli, verb: Verb, targets: string[], json: boolean, owner: string): Promise<number> {
  const client = cli.client(true);
  cli.note(`${owner}: asking it at ${client.baseUrl} to ${verb}`);
  const { revision } = await client.get<StatusView>('/api/v1/status');
  const body: ReconcileBody = { mode: verb, ...(targets.length > 0 ? { targets } : {}) };
  const queued = await client.post<QueuedRuns>('/api/v1/reconcile', body);
  if (revision && !json) cli.print(`revision ${revision.sha} (${revision.branch}): ${revision.subject}`);
  return waitAndReport(cli, client, queued.runs, json);
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  for (; value >= 1024 && unit < units.length - 1; unit++) value /= 1024;
  return `${value.toFixed(1)} ${units[unit]}`;
}
