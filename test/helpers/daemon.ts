import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projectDir = fileURLToPath(new URL('../..', import.meta.url));
const fleetcdBin = join(projectDir, 'bin', 'fleetcd');

/** `fleetcd serve` as a real process (the built dist/), with its output kept for failure messages. */
export type DaemonProcess = {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exit(): Promise<number | null>;
  /** SIGTERM if it still runs, then waits for its exit (a test's `after`). */
  stop(): Promise<void>;
  /** The same wait, but a failure also says what the daemon printed last. */
  withOutput<T>(wait: Promise<T>): Promise<T>;
};

export function spawnDaemon(configFile: string, env: Record<string, string> = {}): DaemonProcess {
  // FLEETCD_TEST_NODE_ARGS: node flags for the daemon alone (e.g. `--cpu-prof`, which NODE_OPTIONS refuses).
  const nodeArgs = process.env.FLEETCD_TEST_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, fleetcdBin, 'serve', '--config', configFile], {
    cwd: projectDir,
    env: { ...process.env, FLEETCD_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-256 * 1024);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    output: () => output,
    exit: () => exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    withOutput: (wait) =>
      wait.catch((error: Error) => {
        throw new Error(`${error.message}\n${output.slice(-4000)}`);
      }),
  };
}

/** Options of one CLI call: variables added to (or, when undefined, removed from) the test's environment. */
export type CliOptions = { env?: Record<string, string | undefined> };

/**
 * One `fleetcd` CLI call (the built dist/), waited for; the daemon it may talk to is another process.
 * `runCli('status', '--config', file)`, or with options first: `runCli({ env: { NO_COLOR: '1' } }, 'status')`.
 */
export function runCli(...args: [CliOptions, ...string[]] | string[]): { code: number | null; out: string; err: string } {
  const [first, ...rest] = args;
  const options: CliOptions = typeof first === 'object' ? first : {};
  const argv = (typeof first === 'object' ? rest : args) as string[];
  const env = { ...process.env, ...options.env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete env[key];
  const result = spawnSync(process.execPath, [fleetcdBin, ...argv], { cwd: projectDir, env, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}


/**
 * GET a JSON document from the daemon. Tests run the CLI with spawnSync, which blocks this process for seconds:
 * the daemon closes the idle kept-alive socket meanwhile (api.timeouts.keepAlive), and fetch can reuse it before
 * this process has seen the close. A GET is safe to send once more, on a new socket; a daemon that is gone still
 * fails (connection refused).
 */
export async function getJson<T>(base: string, path: string): Promise<T> {
  const response = await fetch(`${base}${path}`).catch((error: unknown) => {
    if (!closedUnderUs(error)) throw error;
    return fetch(`${base}${path}`);
  });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** fetch's failure when the server had closed the pooled socket it used. */
function closedUnderUs(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return error instanceof TypeError && (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE');
}
