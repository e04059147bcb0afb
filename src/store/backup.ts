import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from './sqlite.js';
import { FleetError, messageOf } from '../errors.js';

export type BackupResult = { file: string; bytes: number; runs: number; integrity: 'ok' };

/**
 * An online, consistent copy of the state directory's database with SQLite's backup API: it reads through its
 * own connection, so it runs while the daemon writes (this is why it needs no state-directory lock). The copy is
 * opened and checked with `PRAGMA integrity_check` before it is called good.
 */
export async function backupDatabase(stateDir: string, destination: string): Promise<BackupResult> {
  const file = join(stateDir, 'fleetcd.db');
  if (!existsSync(file)) throw new FleetError('not-found', `${file}: no database to back up`);
  if (existsSync(destination)) throw new FleetError('conflict', `${destination} exists; choose a new file`);
  const source = new Database(file, { readonly: true, fileMustExist: true });
  try {
    source.pragma('busy_timeout = 5000');
    await source.backup(destination);
  } catch (error) {
    throw new FleetError('store', `backup of ${file} to ${destination} failed: ${messageOf(error)}`, { cause: error });
  } finally {
    source.close();
  }
  const copy = new Database(destination, { readonly: true, fileMustExist: true });
  try {
    const integrity = copy.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new FleetError('store', `${destination}: the copy fails its integrity check: ${String(integrity)}`);
    const runs = (copy.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
    const bytes = (copy.pragma('page_count', { simple: true }) as number) * (copy.pragma('page_size', { simple: true }) as number);
    return { file: destination, bytes, runs, integrity: 'ok' };
  } finally {
    copy.close();
  }
}
