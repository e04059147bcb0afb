import { join } from 'node:path';
import { readSecretFile, type Config } from './config/index.js';
import { messageOf } from './errors.js';
import type { Logger } from './log.js';
import { buildApi } from './api/server.js';
import { Fleet } from './reconcile/fleet.js';
import { GitSource } from './source/index.js';
import { openDatabase, type Db } from './store/db.js';
import { RunStore } from './store/runs.js';
import { SourceHistory } from './store/source-history.js';
import { lockStateDir } from './store/state-lock.js';

export type Daemon = { address: string; stop: () => Promise<void> };

/**
 * Wire-up only: open the record, mark what a dead predecessor left running, start the source watcher and
 * the reconciler, then the API. Every input problem (config, token file) surfaces before anything starts.
 */
export async function startDaemon(config: Config, log: Logger): Promise<Daemon> {
  const token = config.api.tokenFile ? readSecretFile(config.api.tokenFile, 'api.tokenFile') : undefined;
  const unlock = lockStateDir(config.stateDir, 'serve');
  let db: Db | undefined;
  try {
    db = openDatabase(join(config.stateDir, 'fleetcd.db'));
    return await start(config, log, db, token, unlock);
  } catch (error) {
    db?.close();
    unlock();
    throw error;
  }
}

async function start(config: Config, log: Logger, db: Db, token: string | undefined, unlock: () => void): Promise<Daemon> {
  const store = new RunStore(db);
  const interrupted = store.markInterrupted();
  if (interrupted > 0) log.warn({ runs: interrupted }, 'marked runs of a previous daemon as interrupted');

  const source = new GitSource(config.repository, config.stateDir, { history: new SourceHistory(db), log });
  const fleet = new Fleet(config, store, log);
  const api = buildApi({ fleet, log, stateDir: config.stateDir, token, repository: config.repository });
  const address = await api.listen({ host: config.api.host, port: config.api.port });
  log.info({ address, stateDir: config.stateDir }, 'fleetcd API listening');
  fleet.watch(source);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      log.info({ graceMs: config.reconcile.shutdownGraceMs }, 'stopping: no new runs; waiting for running ones');
      await fleet.stop(config.reconcile.shutdownGraceMs);
      await api.close().catch((error: unknown) => log.warn({ err: messageOf(error) }, 'API close failed'));
      db.close();
      unlock();
      log.info('stopped');
    })());
  return { address, stop };
}
