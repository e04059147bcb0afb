import { closeSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database, { type SqliteDatabase, type SqliteStatement } from './sqlite.js';
import { FleetError, messageOf } from '../errors.js';

export type Db = SqliteDatabase;

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/**
 * Opens (creating if needed) the SQLite database in WAL mode and applies every numbered migration in
 * `migrations/` that `user_version` says is not applied yet, each in its own transaction.
 */
export function openDatabase(file: string, options: { readonly?: boolean } = {}): Db {
  if (!options.readonly) createPrivately(file);
  let db: Db;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  } catch (error) {
    throw new FleetError('store', `${file}: cannot open the database: ${messageOf(error)}`, { cause: error });
  }
  db.pragma('busy_timeout = 5000');
  if (options.readonly) return db;
  try {
    // Before WAL mode: a new database takes its auto-vacuum mode only until its header is first written.
    useIncrementalVacuum(db);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    migrate(db, file);
  } catch (error) {
    db.close();
    throw error;
  }
  db.pragma('foreign_keys = ON');
  return db;
}

/**
 * The database holds diffs, audit rows and gate output: its folder is created 0750 and the file 0640 whatever
 * the umask, and SQLite gives its -wal and -shm files the database file's mode. An existing file keeps its mode.
 */
function createPrivately(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o750 });
  closeSync(openSync(file, 'a', 0o640));
}

/**
 * Incremental auto-vacuum lets pruning give pages back to the file system a few at a time. A new database takes
 * it before its first table; an older one is vacuumed once to switch.
 */
function useIncrementalVacuum(db: Db): void {
  if (db.pragma('auto_vacuum', { simple: true }) === 2) return;
  db.pragma('auto_vacuum = INCREMENTAL');
  const tables = (db.prepare(`SELECT COUNT(*) AS n FROM sqlite_master`).get() as { n: number }).n;
  if (tables > 0) db.exec('VACUUM');
}

/**
 * Foreign keys are off while migrations run (SQLite's way to rebuild a table that others reference; the
 * pragma cannot change inside a transaction) and checked before they are switched back on.
 */
function migrate(db: Db, file: string): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  const migrations = readdirSync(migrationsDir)
    .filter((name) => /^\d{3}-.*\.sql$/.test(name))
    .sort();
  const latest = migrations.length;
  if (applied > latest) {
    throw new FleetError(
      'store',
      `${file}: database schema version ${applied} is newer than this fleetcd knows (${latest}); upgrade fleetcd`,
    );
  }
  if (applied === latest) return;
  db.pragma('foreign_keys = OFF');
  for (const [index, name] of migrations.entries()) {
    const version = index + 1;
    if (version <= applied) continue;
    const sql = readFileSync(join(migrationsDir, name), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      const broken = db.pragma('foreign_key_check') as unknown[];
      if (broken.length > 0) throw new FleetError('store', `${file}: migration ${name} left ${broken.length} broken references`);
      db.pragma(`user_version = ${version}`);
    })();
  }
}

const statements = new WeakMap<Db, Map<string, SqliteStatement>>();

/**
 * A prepared statement for this SQL, compiled once per connection: compiling costs more than running most of
 * the store's queries, and the status of every target runs a few of them per target.
 */
export function prepared(db: Db, sql: string): SqliteStatement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}

/**
 * True for a SQLite error that says the storage itself cannot take writes (full, I/O error, read-only, corrupt,
 * gone), as opposed to a statement's own problem (a constraint): the record can no longer be kept.
 */
export function isStorageFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(FULL|IOERR|READONLY|CORRUPT|NOTADB|CANTOPEN)/.test(code);
}
