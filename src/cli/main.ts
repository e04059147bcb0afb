import { parseArgs } from 'node:util';
import { configPath, loadConfig, readSecretFile, type Config } from '../config/index.js';
import { ConfigError, FleetError, messageOf } from '../errors.js';
import { createLogger } from '../log.js';
import { startDaemon } from '../main.js';
import type { QueuedRuns, RunDetail, RunList, StatusView } from '../api/schemas.js';
import { ApiClient } from './client.js';
import { exitCodes, runOnce } from './one-shot.js';
import { renderRun, renderStatus } from './render.js';

const usage = `usage: fleetcd <verb> [options]

verbs:
  serve                      run the daemon (fetch, check, apply, serve the API)
  check [TARGET...]          one check in the foreground, never applies (exit 0 in sync, 2 drift, 1 error)
  apply [TARGET...]          one reconcile in the foreground that applies drift (exit 0 applied, 1 error)
  status                     the running daemon's view of the fleet
  runs [--target T] [--limit N]   recent runs, newest first
  show RUN_ID                one run with its hosts, drift and failures
  reconcile [TARGET...] [--mode check|apply]   ask the daemon to reconcile now
  cancel RUN_ID              stop a queued or running run

options:
  --config FILE   config file (else $FLEETCD_CONFIG, else /etc/fleetcd/fleetcd.yaml)
  --api URL       daemon API (else $FLEETCD_API, else from the config's api.listen)
  --json          print the API's JSON instead of text`;

const options = {
  config: { type: 'string' },
  api: { type: 'string' },
  json: { type: 'boolean', default: false },
  target: { type: 'string' },
  limit: { type: 'string' },
  mode: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  const [verb, ...rest] = positionals;
  if (values.help || !verb) {
    console.log(usage);
    return verb || values.help ? 0 : 1;
  }
  const print = (text: string): void => console.log(text);
  const file = configPath(values.config);
  switch (verb) {
    case 'serve':
      return serve(file);
    case 'check':
    case 'apply':
      return runOnce(loadConfig(file), createLogger(process.env.FLEETCD_LOG_LEVEL ?? 'warn'), verb, rest, print);
  }
  const client = apiClient(values.api, file, verb === 'reconcile' || verb === 'cancel');
  switch (verb) {
    case 'status': {
      const status = await client.get<StatusView>('/api/v1/status');
      print(values.json ? JSON.stringify(status, null, 2) : renderStatus(status));
      return exitCodes.inSync;
    }
    case 'runs': {
      const query = new URLSearchParams();
      if (values.target) query.set('target', values.target);
      if (values.limit) query.set('limit', values.limit);
      const { runs } = await client.get<RunList>(`/api/v1/runs?${query}`);
      if (values.json) print(JSON.stringify(runs, null, 2));
      else for (const r of runs) print(`#${r.id}\t${r.target}\t${r.kind}\t${r.trigger}\t${r.status}\t${r.revision.slice(0, 12)}\t${r.startedAt ?? '-'}\tchanged=${r.summary.changed} failed=${r.summary.failed} unreachable=${r.summary.unreachable}`);
      return exitCodes.inSync;
    }
    case 'show': {
      const run = await client.get<RunDetail>(`/api/v1/runs/${encodeURIComponent(rest[0] ?? '')}`);
      print(values.json ? JSON.stringify(run, null, 2) : renderRun(run));
      return exitCodes.inSync;
    }
    case 'reconcile': {
      const body = { ...(rest.length > 0 ? { targets: rest } : {}), ...(values.mode ? { mode: values.mode } : {}) };
      const result = await client.post<QueuedRuns>('/api/v1/reconcile', body);
      print(values.json ? JSON.stringify(result, null, 2) : result.runs.map((r) => `queued run #${r.id} for ${r.target}`).join('\n'));
      return exitCodes.inSync;
    }
    case 'cancel': {
      await client.post(`/api/v1/runs/${encodeURIComponent(rest[0] ?? '')}/cancel`, {});
      print(`cancelling run #${rest[0]}`);
      return exitCodes.inSync;
    }
    default:
      throw new FleetError('bad-request', `unknown verb "${verb}"; see fleetcd --help`);
  }
}

/**
 * Runs the daemon until SIGTERM or SIGINT, then shuts down gracefully. A bad config exits 78 (EX_CONFIG),
 * so systemd can tell a config a person must fix (RestartPreventExitStatus) from a crash worth restarting.
 */
async function serve(file: string): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`fleetcd: ${error.message}`);
    return exitCodes.config;
  }
  const log = createLogger();
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

/** The daemon's address: --api, $FLEETCD_API, or the config's api.listen; the token from api.tokenFile. */
function apiClient(flag: string | undefined, file: string, needsToken: boolean): ApiClient {
  const explicit = flag ?? process.env.FLEETCD_API;
  let config: Config | undefined;
  try {
    config = loadConfig(file);
  } catch (error) {
    if (!explicit) throw error;
  }
  const host = config?.api.host.includes(':') ? `[${config.api.host}]` : config?.api.host;
  const base = explicit ?? `http://${host}:${config?.api.port}`;
  const tokenFile = config?.api.tokenFile;
  const token = process.env.FLEETCD_TOKEN ?? (needsToken && tokenFile ? readSecretFile(tokenFile, 'api.tokenFile') : undefined);
  return new ApiClient(base.replace(/\/$/, ''), token);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`fleetcd: ${messageOf(error)}`);
    process.exitCode = exitCodes.error;
  },
);
