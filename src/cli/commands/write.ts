import { type Command, Option } from 'commander';
import type { QueuedRuns, ReconcileBody, TargetDetail } from '../../api/schemas.js';
import { verb } from '../context.js';
import { exitCodes } from '../outcome.js';
import { waitAndReport } from '../wait.js';
import { jsonOption, reconcileExitCodes, runId } from './options.js';

type ReconcileOptions = { check?: boolean; apply?: boolean; mode?: 'check' | 'apply'; force?: boolean; wait?: boolean; json?: boolean };
const path = encodeURIComponent;

/** The verbs that ask the daemon to act (they carry the API token): reconcile, cancel, suspend, resume, rollback. */
export function registerWriteVerbs(program: Command): void {
  program
    .command('reconcile')
    .summary('ask the daemon to reconcile now (--wait: to the end)')
    .description('ask the daemon to reconcile now: a check, then (mode apply, or --apply) an apply of the drift and a verify check')
    .argument('[targets...]', 'the targets (default: all)')
    .addOption(new Option('--check', 'check only; never apply').conflicts(['apply', 'mode']))
    .addOption(new Option('--apply', "apply what the check finds, whatever the target's mode").conflicts('mode'))
    .addOption(new Option('--mode <mode>', 'the older spelling of --check / --apply').choices(['check', 'apply']))
    .option('--force', 'apply now, through apply windows, dependencies and retry backoff')
    .option('--wait', 'follow the reconcile to its end (progress on a terminal), print its runs and exit like check/apply')
    .addOption(jsonOption())
    .addHelpText('after', `\nWithout --wait it prints the queued runs and exits 0.\n${reconcileExitCodes.replace('Exit codes:', 'Exit codes with --wait:')}`)
    .action(
      verb(async (cli, targets: string[], options: ReconcileOptions) => {
        const mode = options.check ? 'check' : options.apply ? 'apply' : options.mode;
        const body: ReconcileBody = { ...(targets.length > 0 ? { targets } : {}), ...(mode ? { mode } : {}), ...(options.force ? { force: true } : {}) };
        const client = cli.client(true);
        const queued = await client.post<QueuedRuns>('/api/v1/reconcile', body);
        if (options.wait) return waitAndReport(cli, client, queued.runs, options.json === true);
        if (options.json) cli.printJson(queued);
        else cli.print(queued.runs.map((r) => `queued run #${r.id} for ${r.target}`).join('\n') || 'no targets to reconcile');
        return exitCodes.inSync;
      }),
    );

  program
    .command('cancel')
    .summary('stop a queued or running run')
    .description('stop a queued or running run (it ends cancelled)')
    .argument('<run-id>', 'the run', runId)
    .action(
      verb(async (cli, id: number) => {
        await cli.client(true).post(`/api/v1/runs/${id}/cancel`, {});
        cli.print(`cancelling run #${id}`);
        return exitCodes.inSync;
      }),
    );

  program
    .command('suspend')
    .summary('stop automatic runs of a target')
    .description('stop automatic runs of a target (kept across restarts) until `fleetcd resume`')
    .argument('<target>', 'the target')
    .option('--reason <text>', 'why, for the people who see it suspended')
    .addOption(jsonOption())
    .action(
      verb(async (cli, target: string, options: { reason?: string; json?: boolean }) => {
        const body = options.reason ? { reason: options.reason } : {};
        const view = await cli.client(true).post<TargetDetail>(`/api/v1/targets/${path(target)}/suspend`, body);
        if (options.json) cli.printJson(view);
        else cli.print(`suspended ${view.name}${options.reason ? ` (${options.reason})` : ''}: no automatic runs until \`fleetcd resume ${view.name}\``);
        return exitCodes.inSync;
      }),
    );

  program
    .command('resume')
    .summary('end a suspension or a hold')
    .description('end a suspension and a hold (from a rollback); the target reconciles at once')
    .argument('<target>', 'the target')
    .addOption(jsonOption())
    .action(
      verb(async (cli, target: string, options: { json?: boolean }) => {
        const view = await cli.client(true).post<TargetDetail>(`/api/v1/targets/${path(target)}/resume`, {});
        if (options.json) cli.printJson(view);
        else cli.print(`resumed ${view.name}: it follows the branch again and reconciles now`);
        return exitCodes.inSync;
      }),
    );

  program
    .command('rollback')
    .summary('apply an earlier revision and hold the target there')
    .description('apply an earlier revision the source accepted to every host of a target, and hold the target there until `fleetcd resume`')
    .argument('<target>', 'the target')
    .argument('<revision>', 'a commit sha (7 to 40 hex digits) the source accepted before')
    .option('--reason <text>', 'why, recorded with the hold')
    .option('--wait', 'follow the rollback to its end and exit like apply')
    .addOption(jsonOption())
    .addHelpText('after', `\n${reconcileExitCodes.replace('Exit codes:', 'Exit codes with --wait:')}`)
    .action(
      verb(async (cli, target: string, revision: string, options: { reason?: string; wait?: boolean; json?: boolean }) => {
        const client = cli.client(true);
        const body = { revision, ...(options.reason ? { reason: options.reason } : {}) };
        const queued = await client.post<QueuedRuns>(`/api/v1/targets/${path(target)}/rollback`, body);
        if (options.wait) return waitAndReport(cli, client, queued.runs, options.json === true);
        if (options.json) cli.printJson(queued);
        else {
          const runs = queued.runs.map((r) => `#${r.id}`).join(', ');
          cli.print(`rolling ${target} back to ${revision}: queued run ${runs}; held there until \`fleetcd resume ${target}\``);
        }
        return exitCodes.inSync;
      }),
    );
}
