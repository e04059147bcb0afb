import { readSecretFile, type Config } from './config/index.js';
import { messageOf } from './errors.js';
import type { Logger } from './log.js';
import { buildApi } from './api/server.js';
import { openFleet } from './reconcile/open.js';

export type Daemon = { address: string; stop: () => Promise<void> };

/**
 * Wire-up only: open the fleet (lock, record, crash recovery), start the source watcher and the
 * reconciler, then the API. Every input problem (config, token file) surfaces before anything starts.
 */
export async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  const token = config.api.tokenFile ? readSecretFile(config.api.tokenFile, 'api.tokenFile') : undefined;
  const opened = await openFleet(config, log, 'serve');
  const { fleet, source } = opened;
  let address: string;
  const api = buildApi({ fleet, log, token, repository: config.repository });
  try {
    address = await api.listen({ host: config.api.host, port: config.api.port });
  } catch (error) {
    await fleet.stop(0);
    opened.close();
    throw error;
  }
  log.info({ address, stateDir: config.stateDir }, 'fleetcd API listening');
  fleet.watch(source);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info({ graceMs: config.reconcile.shutdownGraceMs }, 'stopping: no new runs; waiting for running ones');
      await fleet.stop(config.reconcile.shutdownGraceMs);
      await api.close().catch((error: unknown) => log.warn({ err: messageOf(error) }, 'API close failed'));
      opened.close();
      log.info('stopped');
    })());
  return { address, stop };
}
