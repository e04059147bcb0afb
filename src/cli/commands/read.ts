import type { Command } from 'commander';
import type { Comparison, HostPage, RunDetail, RunList, StatusView, TargetDetail } from '../../api/schemas.js';
import { exitCodes } from '../outcome.js';
import { renderTarget, renderStatus, renderTargets } from '../render/fleet.js';
import { renderComparison } from '../render/compare.js';
import { renderHost } from '../render/host.js';
import { renderRun, renderRuns } from '../render/run.js';
import { verb } from '../context.js';
import { jsonOption, positiveInt, runId } from './options.js';

type Json = { json?: boolean };
const path = encodeURIComponent;

/** The verbs that read the running daemon's view: status, targets, target, compare, runs, show, host. */
export function registerReadVerbs(program: Command): void {
  program
    .command('status')
    .summary("the daemon's view of the fleet")
    .description("the running daemon's view of the fleet: revision, source, config, one row per target, problems")
    .addOption(jsonOption())
    .action(
      verb(async (cli, options: Json) => {
        const status = await cli.client().get<StatusView>('/api/v1/status');
        if (options.json) cli.printJson(status);
        else cli.print(renderStatus(status, cli.look()));
        return exitCodes.inSync;
      }),
    );

  program
    .command('targets')
    .summary('one row per target')
    .description('one aligned row per target: status, mode, state, revision, last check and apply, drifted hosts, waits')
    .addOption(jsonOption())
    .action(
      verb(async (cli, options: Json) => {
        const { targets } = await cli.client().get<StatusView>('/api/v1/status');
        if (options.json) cli.printJson(targets);
        else cli.print(renderTargets(targets, cli.look()));
        return exitCodes.inSync;
      }),
    );

  program
    .command('target')
    .summary('one target and its hosts')
    .description('one target: its status, revision, last runs, suspension, hold, waits, retries, shared hosts and hosts')
    .argument('<name>', 'the target (an inventory of the fleet repository)')
    .addOption(jsonOption())
    .action(
      verb(async (cli, name: string, options: Json) => {
        const target = await cli.client().get<TargetDetail>(`/api/v1/targets/${path(name)}`);
        if (options.json) cli.printJson(target);
        else cli.print(renderTarget(target, cli.look()));
        return exitCodes.inSync;
      }),
    );

  program
    .command('compare')
    .summary('what one target runs that another does not')
    .description(
      'the commits <from> runs that <to> does not, and the reverse, with the files each changed; says when the two have diverged (a force-push)',
    )
    .argument('<from>', 'a target, say staging')
    .argument('<to>', 'another target, say production')
    .addOption(jsonOption())
    .action(
      verb(async (cli, from: string, to: string, options: Json) => {
        const comparison = await cli.client().get<Comparison>(`/api/v1/compare?${new URLSearchParams({ from, to })}`);
        if (options.json) cli.printJson(comparison);
        else cli.print(renderComparison(comparison, cli.look()));
        return exitCodes.inSync;
      }),
    );

  program
    .command('runs')
    .summary('recent runs, newest first')
    .description('recent runs, newest first')
    .option('--target <name>', 'only the runs of this target')
    .option('--limit <n>', "how many (1-500; the daemon's default is 50)", positiveInt)
    .option('--before <id>', 'only runs older than this run (to page)', positiveInt)
    .addOption(jsonOption())
    .action(
      verb(async (cli, options: Json & { target?: string; limit?: number; before?: number }) => {
        const query = new URLSearchParams();
        if (options.limit) query.set('limit', String(options.limit));
        if (options.target) query.set('target', options.target);
        if (options.before) query.set('before', String(options.before));
        const list = await cli.client().get<RunList>(`/api/v1/runs?${query}`);
        if (options.json) cli.printJson(list);
        else cli.print(renderRuns(list.runs, cli.look()));
        return exitCodes.inSync;
      }),
    );

  program
    .command('show')
    .summary("one run with its diffs (--log: Ansible's output)")
    .description('one run: hosts, drift or changes as unified diffs, failures, warnings')
    .argument('<run-id>', 'the run', runId)
    .option('--log', "print Ansible's own output of the run after it")
    .addOption(jsonOption().conflicts('log'))
    .action(
      verb(async (cli, id: number, options: Json & { log?: boolean }) => {
        const client = cli.client();
        const run = await client.get<RunDetail>(`/api/v1/runs/${id}`);
        if (options.json) {
          cli.printJson(run);
          return exitCodes.inSync;
        }
        cli.print(renderRun(run, cli.look()));
        if (options.log) {
          const log = await client.text(`/api/v1/runs/${id}/log`);
          cli.print(`\n--- ansible-playbook output of run #${id} ---\n${log.text.replace(/\n$/, '')}`);
        }
        return exitCodes.inSync;
      }),
    );

  program
    .command('host')
    .summary('one host across targets')
    .description('one host across targets: its status in each, its newest changes with diffs, failures and runs')
    .argument('<name>', 'the host, as the inventories name it')
    .addOption(jsonOption())
    .action(
      verb(async (cli, name: string, options: Json) => {
        const host = await cli.client().get<HostPage>(`/api/v1/hosts/${path(name)}`);
        if (options.json) cli.printJson(host);
        else cli.print(renderHost(host, cli.look()));
        return exitCodes.inSync;
      }),
    );
}
