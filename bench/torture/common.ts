/**
 * What every torture scenario shares: the record of what it did, required and observed; the daemon's memory
 * and database as seen from outside; paging through runs; a seeded random source so a failure can be replayed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from '../../src/store/sqlite.js';
import { dump, load } from 'js-yaml';
import type { RunList, RunSummary, StatusView } from '../../src/api/schemas.js';
import type { RunningDaemon } from '../../test/helpers/running-daemon.js';
import { waitFor } from '../../test/helpers/wait.js';
import { epochMs } from './loop-delay.js';
import type { WatchOrders } from './serving-watch-worker.js';

/** `short` runs in CI (the whole suite within 3 minutes); `full` has the sizes. */
export type Mode = 'short' | 'full';

/** One functional requirement: what was required, what was seen, and whether that is enough. */
export type Check = { requirement: string; observed: string; ok: boolean };

/** What a scenario reports: the TORTURE.md section and the test's assertions are both made from it. */
export type ScenarioResult = {
  name: string;
  title: string;
  mode: Mode;
  did: string[];
  checks: Check[];
  /** Timings and sizes, reported and never asserted. */
  figures: Array<[string, string]>;
  /** Defects seen, in words a person can act on (request, answer, log line). */
  defects: string[];
  durationMs: number;
  /** Set when the scenario could not run to its end. */
  error?: string;
};

/** Collects a scenario's record as it goes. */
export class Recorder {
  readonly did: string[] = [];
  readonly checks: Check[] = [];
  readonly figures: Array<[string, string]> = [];
  readonly defects: string[] = [];

  constructor(readonly mode: Mode) {}

  step(text: string): void {
    this.did.push(text);
  }

  check(requirement: string, ok: boolean, observed: string): boolean {
    this.checks.push({ requirement, observed, ok });
    return ok;
  }

  figure(name: string, value: string | number): void {
    this.figures.push([name, String(value)]);
  }

  defect(text: string): void {
    this.defects.push(text);
  }
}

/** Runs a scenario's body with a fresh recorder; an exception becomes a failed check, never a crash of the suite. */
export async function scenario(name: string, title: string, mode: Mode, body: (r: Recorder) => Promise<void>): Promise<ScenarioResult> {
  const r = new Recorder(mode);
  const started = Date.now();
  let error: string | undefined;
  try {
    await body(r);
  } catch (caught) {
    error = caught instanceof Error ? (caught.stack ?? caught.message) : String(caught);
    r.check('the scenario runs to its end', false, error.split('\n')[0] ?? error);
  }
  return { name, title, mode, did: r.did, checks: r.checks, figures: r.figures, defects: r.defects, durationMs: Date.now() - started, error };
}

/** Resident and peak resident memory of a process, in KiB (from /proc/<pid>/status). */
export function memoryOf(pid: number): { rssKiB: number; peakKiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssKiB: field('VmRSS'), peakKiB: field('VmHWM') };
}

/** Resets a process's peak RSS (VmHWM) to its current RSS, so a phase's own peak can be read afterwards. */
export function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not allowed here: the peak then covers the whole life of the process, which only overstates it.
  }
}

export const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;

/** `PRAGMA integrity_check` of the daemon's database, opened read-only beside the running daemon. */
export function integrityOf(stateDir: string): string {
  const db = new Database(join(stateDir, 'fleetcd.db'), { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}

/** Every run the daemon knows, newest first (paged through `before`). */
export async function allRuns(d: RunningDaemon): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for (let before = ''; ; ) {
    const page = (await d.get<RunList>(`/api/v1/runs?limit=500${before}`)).runs;
    runs.push(...page);
    if (page.length < 500) return runs;
    before = `&before=${page.at(-1)!.id}`;
  }
}

export const finalStatuses: ReadonlySet<string> = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

/** Resolves once a revision is in use and every target has a finished run and none queued or running. */
export async function idle(d: RunningDaemon, timeoutMs = 120_000): Promise<StatusView> {
  return waitFor('every target to be idle', async () => {
    const status = await d.status();
    const settled = (t: StatusView['targets'][number]): boolean => !t.running && t.lastRun !== null && finalStatuses.has(t.lastRun.status);
    return status.revision !== null && status.targets.length > 0 && status.targets.every(settled) ? status : undefined;
  }, timeoutMs, 200);
}

/**
 * Rewrites the `repository:` line of the daemon's config (the helper writes the url and a 1h poll) with more
 * keys, then reloads it with SIGHUP and waits for the daemon to say it loaded it.
 */
export async function reconfigureRepository(d: RunningDaemon, repository: Record<string, string>): Promise<void> {
  const before = (await d.status()).config.loadedAt;
  const lines = readFileSync(d.configFile, 'utf8').split('\n');
  lines[0] = `repository: ${JSON.stringify({ url: d.repo.origin, pollInterval: '1h', ...repository })}`;
  writeFileSync(d.configFile, lines.join('\n'));
  d.process.child.kill('SIGHUP');
  await waitFor('the config reload', async () => (await d.status()).config.loadedAt !== before, 15_000, 100);
}

/**
 * Reloads the daemon (SIGHUP) with its config file changed by `edit` (on the parsed YAML), then puts the file
 * back. Resolves once the daemon took it (its `config.loadedAt` moved) or logged a refusal naming `marker`.
 */
export async function reloadEdited(
  d: RunningDaemon,
  edit: (config: Record<string, unknown>) => void,
  marker: string,
): Promise<{ loaded: boolean; logLine: string | undefined }> {
  const before = (await d.status()).config.loadedAt;
  const kept = readFileSync(d.configFile, 'utf8');
  const config = load(kept) as Record<string, unknown>;
  edit(config);
  writeFileSync(d.configFile, dump(config));
  const refusal = (): string | undefined =>
    d.process.output().split('\n').filter((line) => line.includes('config reload refused') && line.includes(marker)).at(-1);
  d.process.child.kill('SIGHUP');
  try {
    const loaded = await waitFor(`the reload (${marker})`, async () => {
      if ((await d.status()).config.loadedAt !== before) return 'loaded';
      return refusal() ? 'refused' : undefined;
    }, 15_000, 50);
    return { loaded: loaded === 'loaded', logLine: refusal() };
  } finally {
    writeFileSync(d.configFile, kept);
  }
}

/** What a watch of the daemon saw: each answer's time, each failure, the longest time without an answer, and the watcher's own longest event-loop stall. */
export type Watched = { latencies: number[]; failures: string[]; longestSilenceMs: number; watcherStallMs?: number };

const watcherUrl = new URL('./serving-watch-worker.ts', import.meta.url).href;

/** A running watch: `stop` ends it and says what it saw (called again, the same answer). */
export type ServingWatch = { stop(): Promise<Watched>; silentForMs(): number };

/**
 * Asks the daemon for `path` every 100 ms (each with a `timeoutMs` limit) until stopped, so a scenario can say the
 * daemon answered throughout, and for how long it did not when it did not. The asking runs in a worker thread:
 * what the scenario itself does synchronously meanwhile (git on a 100 MB file) cannot pass for the daemon's silence.
 */
export async function watchServing(d: RunningDaemon, path = '/healthz', timeoutMs = 2000): Promise<ServingWatch> {
  const lastAnswer = new SharedArrayBuffer(8);
  const last = new BigInt64Array(lastAnswer);
  const orders: WatchOrders = { url: `${d.base}${path}`, timeoutMs, lastAnswer };
  // A worker does not inherit tsx's hooks from `--import tsx`: it loads the TypeScript file through tsx's API.
  const loader = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ tsImport }) => tsImport(${JSON.stringify(watcherUrl)}, ${JSON.stringify(watcherUrl)}))`;
  const worker = new Worker(loader, { eval: true, workerData: orders });
  const ended = new Promise<never>((_resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the ${path} watcher exited (${code}) before it reported`)));
  });
  ended.catch(() => undefined); // seen through `ready` or `stop`, whichever is waiting
  const next = <T>(): Promise<T> => Promise.race([new Promise<T>((resolve) => worker.once('message', resolve)), ended]);
  // Starting it (tsx compiling the watcher) takes seconds on a loaded machine: the silence counts from its first request.
  await next<'ready'>();
  let stopped: Promise<Watched> | undefined;
  return {
    silentForMs: () => epochMs() - Number(Atomics.load(last, 0)),
    stop() {
      if (!stopped) {
        const seen = next<Watched>();
        worker.postMessage('stop');
        stopped = seen.finally(() => worker.terminate());
      }
      return stopped;
    },
  };
}

/** A small fast PRNG (mulberry32): the same seed gives the same torture. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The p-th percentile (0–100) of some numbers, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const ms = (value: number): string => `${Math.round(value)} ms`;

/**
 * An inventory of local-connection hosts, each with its sandbox `host_root` under `base`. (test/helpers/fleet.ts
 * has the same as `localInventory`, but importing it loads the whole in-process fleet, which a suite that only
 * talks to daemon processes has no use for.)
 */
export function localHosts(base: string, hosts: readonly string[]): string {
  for (const host of hosts) mkdirSync(join(base, host), { recursive: true });
  const lines = ['all:', '  vars:', '    ansible_connection: local', '    ansible_python_interpreter: /usr/bin/python3', '  hosts:'];
  for (const host of hosts) lines.push(`    ${host}:`, `      host_root: ${JSON.stringify(join(base, host))}`);
  return `${lines.join('\n')}\n`;
}
