import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QueuedRuns, RunDetail, StatusView, TargetDetail } from '../../src/api/schemas.js';
import { freePort, getJson, spawnDaemon, type DaemonProcess } from './daemon.js';
import { createFleetRepo, type FleetRepo } from './git.js';
import { processesMentioning, killGroups } from './processes.js';
import { removeDir, tempDir } from './tmp.js';
import { GiveUp, waitFor } from './wait.js';

const finalStatuses = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

/** `fleetcd serve` over a fresh fleet repository, with what a test does to it through the API. */
export type RunningDaemon = {
  dir: string;
  repo: FleetRepo;
  configFile: string;
  stateDir: string;
  base: string;
  token: string;
  process: DaemonProcess;
  /** Rewrites the config file (the daemon reads it at start and on SIGHUP). */
  writeConfig(extra: string): void;
  get<T>(path: string): Promise<T>;
  /** A POST with the token; resolves with the status and the parsed body whatever the status. */
  post<T = unknown>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  status(): Promise<StatusView>;
  target(name: string): Promise<TargetDetail>;
  run(id: number): Promise<RunDetail>;
  /** The run once it ended. */
  finished(id: number, timeoutMs?: number): Promise<RunDetail>;
  /** A reconcile's runs (check, apply, verify), each once ended, after its target is no longer running. */
  chain(id: number, timeoutMs?: number): Promise<RunDetail[]>;
  reconcile(body: unknown): Promise<QueuedRuns>;
  /** SIGTERM, and waits for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: the daemon cannot clean up. */
  kill9(): Promise<void>;
  /** Starts the daemon again on the same config and state. */
  restart(): Promise<void>;
  /** Stops everything and removes the temp dir (the test's `after`). */
  cleanup(): Promise<void>;
};

/** Keys added to the generated `repository:` and `api:` mappings (YAML flow text, e.g. `timeouts: { request: 4s }`). */
export type DaemonKeys = { repository?: string; api?: string };

/**
 * A fleet repository holding `files`, and `fleetcd serve` watching it with `config` (YAML lines added under
 * the generated top level: repository, stateDir, api) and `keys` added inside those generated mappings. The
 * daemon is answering when this resolves.
 */
export async function startDaemonFleet(files: Record<string, string>, config = '', keys: DaemonKeys = {}): Promise<RunningDaemon> {
  const dir = tempDir('fleetcd-daemon-');
  const repo = await createFleetRepo(files);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const token = 'daemon-test-token';
  const tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const stateDir = join(dir, 'state');
  const configFile = join(dir, 'fleetcd.yaml');
  const writeConfig = (extra: string): void =>
    writeFileSync(
      configFile,
      `repository: { url: ${JSON.stringify(repo.origin)}, pollInterval: 1h${more(keys.repository)} }\nstateDir: ${JSON.stringify(stateDir)}\n` +
        `api: { listen: "127.0.0.1:${port}", tokenFile: ${JSON.stringify(tokenFile)}${more(keys.api)} }\n${extra}\n`,
    );
  writeConfig(config);
  const get = <T>(path: string): Promise<T> => getJson<T>(base, path);
  const post = async <T>(path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const daemon: RunningDaemon = {
    dir,
    repo,
    configFile,
    stateDir,
    base,
    token,
    process: spawnDaemon(configFile, { FLEETCD_LOG_LEVEL: 'debug' }),
    writeConfig,
    get,
    post,
    status: () => get<StatusView>('/api/v1/status'),
    target: (name) => get<TargetDetail>(`/api/v1/targets/${name}`),
    run: (id) => get<RunDetail>(`/api/v1/runs/${id}`),
    finished: (id, timeoutMs = 60_000) =>
      waitFor(`run #${id} to end`, async () => {
        const run = await get<RunDetail>(`/api/v1/runs/${id}`);
        return finalStatuses.has(run.status) ? run : undefined;
      }, timeoutMs, 200),
    async chain(id, timeoutMs = 90_000) {
      const runs: RunDetail[] = [];
      for (let next: number | null = id; next !== null; ) {
        const run = await daemon.finished(next, timeoutMs);
        const settled: RunDetail = await waitFor(`what follows run #${next}`, async () => {
          const again = await get<RunDetail>(`/api/v1/runs/${run.id}`);
          if (again.followedBy !== null) return again;
          const target = await get<TargetDetail>(`/api/v1/targets/${run.target}`);
          return target.running ? undefined : again;
        }, timeoutMs, 200);
        runs.push(settled);
        next = settled.followedBy;
      }
      return runs;
    },
    async reconcile(body) {
      const { status, body: answer } = await post<QueuedRuns & { error?: string }>('/api/v1/reconcile', body);
      if (status !== 202) throw new Error(`POST /api/v1/reconcile: ${status} ${answer.error}`);
      return answer;
    },
    async stop() {
      const child = daemon.process.child;
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return daemon.process.exit();
    },
    async kill9() {
      daemon.process.child.kill('SIGKILL');
      await daemon.process.exit();
    },
    async restart() {
      daemon.process = spawnDaemon(configFile, { FLEETCD_LOG_LEVEL: 'debug' });
      await answering();
    },
    async cleanup() {
      const child = daemon.process.child;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited.finally(() => clearTimeout(timer));
      }
      // Whatever a failed test left running under this test's folder goes, by process group.
      killGroups(processesMentioning(dir).map((p) => p.pgid));
      repo.cleanup();
      removeDir(dir);
    },
  };
  const answering = (): Promise<unknown> =>
    waitFor('the daemon to answer', async () => {
      const child = daemon.process.child;
      if (child.exitCode !== null) throw new GiveUp(`the daemon exited: ${daemon.process.output()}`);
      return (await fetch(`${base}/healthz`)).ok;
    }, 30_000, 100);
  try {
    await answering();
  } catch (error) {
    await daemon.cleanup();
    throw error;
  }
  return daemon;
}

const more = (keys: string | undefined): string => (keys ? `, ${keys}` : '');
