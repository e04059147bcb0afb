import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino, type Logger } from 'pino';
import { parseConfig, type Config } from '../../src/config/index.js';
import { GitSource, type GitSourceOptions } from '../../src/source/index.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { SqliteSourceHistory } from '../../src/store/source-history.js';
import { makeFleet, type TestFleet } from '../helpers/fleet.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/** Environment for the test's own git commands: no system config, no prompts. */
export const gitTestEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' };

/** Runs git in `cwd` and returns its trimmed stdout; throws with stderr on failure. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitTestEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A fleet repo removed when the test ends. */
export async function fleetRepo(t: TestContext, files: Record<string, string> = { 'README.md': 'fleet\n' }): Promise<FleetRepo> {
  const repo = await createFleetRepo(files);
  t.after(() => repo.cleanup());
  return repo;
}

/** A private temp dir removed when the test ends. */
export function scratch(t: TestContext, prefix = 'fleetcd-source-'): string {
  const dir = tempDir(prefix);
  t.after(() => removeDir(dir));
  return dir;
}

/** Writes a file (creating folders) and returns its path. */
export function writeFile(path: string, text: string, mode = 0o600): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text, { mode });
  return path;
}

/** The validated `repository` section for these keys (relative paths taken from `dir`). */
export function repositoryConfig(dir: string, repository: Record<string, unknown>): Config['repository'] {
  return parseConfig({ repository, stateDir: join(dir, 'state') }, join(dir, 'fleetcd.yaml')).repository;
}

export type SourceUnderTest = {
  source: GitSource;
  stateDir: string;
  db: Db;
  history: SqliteSourceHistory;
  logFile: string;
  log: Logger;
  /** A second GitSource over the same state dir and database: the daemon after a restart. */
  restart(): GitSource;
};

/**
 * A GitSource over `repository` with a state dir, a real SQLite history and a pino log file in `dir`, all
 * closed when the test ends.
 */
export function makeSource(t: TestContext, dir: string, repository: Record<string, unknown>, options: Partial<GitSourceOptions> = {}): SourceUnderTest {
  const repo = repositoryConfig(dir, repository);
  const stateDir = join(dir, 'state');
  const db = openDatabase(join(stateDir, 'fleetcd.db'));
  t.after(() => db.close());
  const history = new SqliteSourceHistory(db);
  const logFile = join(dir, 'fleetcd.log');
  const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const build = (): GitSource => new GitSource(repo, stateDir, { history, log, ...options });
  return { source: build(), stateDir, db, history, logFile, log, restart: build };
}

/** The message of the error `promise` rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error('expected a rejection, got a result');
}

/** Reads a file of a checkout, or undefined when it is not there. */
export function readIn(dir: string, path: string): string | undefined {
  const file = join(dir, path);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/**
 * The daemon's parts as main.ts wires them (lock, record, GitSource, Fleet, API), watching `repository` with a
 * long poll interval, once its first fetch is done. Everything is stopped when the test ends.
 */
export async function makeWatchedFleet(
  t: TestContext,
  dir: string,
  repository: Record<string, unknown>,
  options: { config?: Record<string, unknown> } = {},
): Promise<TestFleet> {
  const fleet = await makeFleet(undefined, { dir, repository, config: options.config });
  t.after(() => fleet.cleanup());
  return fleet;
}
