import { loadConfig, type Config } from './config/index.js';
import { messageOf } from './errors.js';
import type { Logger } from './log.js';
import { loadTokens } from './api/auth.js';
import { allowedHostsOf } from './api/hosts.js';
import { buildApi } from './api/server.js';
import { ForgePoster } from './forge/index.js';
import { checkSecretHeaders, Notifier } from './notify/index.js';
import { AuditLog } from './store/audit.js';
import { WebhookDeliveries } from './store/webhook-deliveries.js';
import { openFleet } from './reconcile/open.js';
import { GitSource } from './source/index.js';
import { SqliteSourceHistory } from './store/source-history.js';

export type Daemon = {
  address: string;
  /** Reads the config file again (SIGHUP); false, with the old config kept, when it is not valid. */
  reload: () => boolean;
  stop: () => Promise<void>;
};

/**
 * Wire-up only: open the fleet (lock, record, crash recovery), start the source watcher and the
 * reconciler, then the API. Every input problem (config, token file) surfaces before anything starts.
 */
export async function startDaemon(initial: Config, log: Logger): Promise<Daemon> {
  let config = initial;
  let tokens = loadTokens(config.api);
  let hosts = allowedHostsOf(config.api);
  checkSecretHeaders(config);
  const opened = await openFleet(config, log, 'serve');
  const { fleet, source, db } = opened;
  const notifier = new Notifier(config, { db, log, fleet });
  notifier.watch(fleet.changes);
  fleet.pruner.alsoPrune((cutoff) => notifier.prune(cutoff));
  const forge = new ForgePoster(config, { log });
  forge.watch(fleet.changes);
  for (const id of opened.interruptedPreviews) fleet.previews.announce(id);
  let address: string;
  const api = buildApi({
    fleet,
    log,
    tokens: () => tokens,
    requireReadToken: () => config.api.requireReadToken,
    allowedHosts: () => hosts,
    audit: new AuditLog(db),
    deliveries: new WebhookDeliveries(db),
    limits: config.api,
    notifications: notifier,
    repository: () => config.repository,
    previews: () => config.previews,
    tls: config.api.tls,
  });
  try {
    address = await api.listen({ host: config.api.host, port: config.api.port });
  } catch (error) {
    await fleet.stop(0);
    notifier.stop();
    forge.stop();
    opened.close();
    throw error;
  }
  log.info({ address, stateDir: config.stateDir }, 'fleetcd API listening');
  fleet.watch(source);

  const reload = (): boolean => {
    let next: Config;
    try {
      next = loadConfig(config.file);
      tokens = loadTokens(next.api);
      checkSecretHeaders(next);
    } catch (error) {
      log.error({ file: config.file, err: messageOf(error) }, 'config reload refused; the config in force stays');
      return false;
    }
    if (next.stateDir !== config.stateDir) log.warn({ from: config.stateDir, to: next.stateDir }, 'stateDir changed: it takes a restart; keeping the old one');
    if (next.api.host !== config.api.host || next.api.port !== config.api.port) {
      log.warn({ from: `${config.api.host}:${config.api.port}`, to: `${next.api.host}:${next.api.port}` }, 'api.listen changed: it takes a restart');
    }
    if (JSON.stringify([next.api.timeouts, next.api.maxConnections]) !== JSON.stringify([config.api.timeouts, config.api.maxConnections])) {
      log.warn('api.timeouts or api.maxConnections changed: it takes a restart');
    }
    const { host, port, timeouts, maxConnections } = config.api;
    config = { ...next, stateDir: config.stateDir, api: { ...next.api, host, port, timeouts, maxConnections } };
    hosts = allowedHostsOf(config.api);
    const effective = config;
    fleet.reload(effective, () => new GitSource(effective.repository, effective.stateDir, { history: new SqliteSourceHistory(db), log }));
    notifier.reconfigure(effective);
    forge.reconfigure(effective);
    log.info({ file: config.file }, 'config reloaded');
    return true;
  };

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info({ graceMs: config.reconcile.shutdownGraceMs }, 'stopping: no new runs; waiting for running ones');
      await fleet.stop(config.reconcile.shutdownGraceMs);
      notifier.stop();
      forge.stop();
      await api.close().catch((error: unknown) => log.warn({ err: messageOf(error) }, 'API close failed'));
      opened.close();
      log.info('stopped');
    })());
  return { address, reload, stop };
}
