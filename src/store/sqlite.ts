import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * better-sqlite3, in the build that is safe on the Node.js running us. Majors up to 12 wrap their objects in
 * the raw `node::ObjectWrap`, whose destructor Node 24 changed: a statement collected at the wrong moment aborts
 * the process (`Assertion failed: (env) != nullptr` in RemoveEnvironmentCleanupHook). Major 13 is built on
 * Node-API and ships prebuilt binaries, but needs Node ≥ 22 (on Node 20 it segfaults). So Node 20 gets 12
 * (compiled from source at install), 22 and later get 13 (installed as the `better-sqlite3-napi` alias, same
 * API). Drop 12 and this switch with Node 20. Everything that opens a database imports it from here.
 */
const require = createRequire(import.meta.url);
const nodeMajor = Number(process.versions.node.split('.')[0]);

const Sqlite: typeof BetterSqlite3 = require(nodeMajor >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3');
export default Sqlite;

export type SqliteDatabase = BetterSqlite3.Database;
export type SqliteStatement = BetterSqlite3.Statement;
