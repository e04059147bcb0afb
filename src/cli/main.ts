import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { ConfigError, messageOf } from '../errors.js';
import { registerLocalVerbs } from './commands/local.js';
import { registerPreviewVerb } from './commands/preview.js';
import { registerReadVerbs } from './commands/read.js';
import { registerValidate } from './commands/validate.js';
import { registerWriteVerbs } from './commands/write.js';
import { verb } from './context.js';
import { errorText } from './commands/options.js';
import { exitCodes, stateUmask } from './outcome.js';

/** `fleetcd`: the daemon (`serve`) and the CLI of its API, wired with commander. */
function program(): Command {
  const root = new Command('fleetcd')
    .description('GitOps for Ansible fleets: finds drift with ansible-playbook --check --diff, applies it, records every run.')
    .version(version())
    .showSuggestionAfterError()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({ outputError: (text, write) => write(errorText(text)) })
    .exitOverride()
    .addOption(new Option('--config <file>', 'the config file (else $FLEETCD_CONFIG, else /etc/fleetcd/fleetcd.yaml)'))
    .addOption(new Option('--server <url>', "the daemon to talk to (else $FLEETCD_SERVER, else the config's api.listen)"))
    .addOption(new Option('--api <url>', 'the older name of --server (and $FLEETCD_API of $FLEETCD_SERVER)'))
    .addOption(new Option('--token-file <file>', "the API token's file (else $FLEETCD_TOKEN, else the config's api.tokenFile)"));
  root
    .command('serve')
    .summary('run the daemon')
    .description('run the daemon: fetch the repository, check and apply on schedule, serve the API and the status page')
    .addHelpText('after', '\nSIGTERM or SIGINT stop it gracefully, SIGHUP reloads the config.\n\nExit codes:\n  0   stopped by a signal\n  78  the config is invalid (EX_CONFIG: systemd does not restart it)\n  70  a crash: the record could not be written, or an uncaught error (systemd restarts it)\n  1   any other error')
    .action(verb((cli) => serve(cli.configFile)));
  registerReadVerbs(root);
  registerWriteVerbs(root);
  registerPreviewVerb(root);
  registerLocalVerbs(root);
  registerValidate(root);
  root.addHelpText(
    'after',
    `
The verbs that talk to the daemon need no config when --server is given. They send the API token from
--token-file, else $FLEETCD_TOKEN, else the config's api.tokenFile: the POSTs always need it, reads when
the daemon has api.requireReadToken. Colour only on a terminal, never with NO_COLOR set.

Exit codes: 0 success (in sync); 2 drift left (check, apply, reconcile --wait); 1 failure or error;
78 an invalid config for serve. \`fleetcd <verb> --help\` says more.`,
  );
  return root;
}

/**
 * Runs the daemon until SIGTERM or SIGINT, then shuts down gracefully. A bad config exits 78 (EX_CONFIG),
 * so systemd can tell a config a person must fix (RestartPreventExitStatus) from a crash worth restarting; a
 * crash (the record cannot be written, an uncaught error) exits 70 (crash.ts).
 */
async function serve(file: string): Promise<number> {
  // The record holds diffs, audit rows and gate output: never world-readable, whatever umask started us.
  process.umask(stateUmask);
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`fleetcd: ${error.message}`);
    return exitCodes.config;
  }
  const [{ createLogger }, { startDaemon }, { installCrashHandlers }] = await Promise.all([import('../log.js'), import('../main.js'), import('../crash.js')]);
  const log = createLogger();
  installCrashHandlers(log);
  const daemon = await startDaemon(config, log);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: string): void => {
      log.info({ signal }, 'signal received');
      void daemon.stop().then(resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    process.on('SIGHUP', () => {
      log.info({ signal: 'SIGHUP' }, 'signal received: reloading the config');
      daemon.reload();
    });
  });
  return 0;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Help and version exit 0, a usage error 1 (commander said why), any error 1 with `fleetcd: <message>`. */
async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    console.error(`fleetcd: ${messageOf(error)}`);
    process.exitCode = exitCodes.error;
  }
}

void main(process.argv.slice(2));
