/**
 * A well-behaved client in a process of its own: while a scenario keeps hundreds of slow sockets busy in its
 * own process, the time a request takes must be the daemon's, not that of a test process busy with its
 * sockets. Each request goes on a fresh connection (a newcomer must get in, not only a kept-alive socket).
 *
 *   node --import tsx bench/torture/latency-probe.ts <base URL> <duration ms> <path>...   prints a ProbeResult as JSON
 */
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** Milliseconds per answered request, by path, and what went wrong with the others. */
export type ProbeResult = { latencies: Record<string, number[]>; failures: string[] };

const thisFile = fileURLToPath(import.meta.url);
const projectDir = fileURLToPath(new URL('../..', import.meta.url));
/** A request slower than this counts as a failure (the bound asserted is far below it). */
const requestTimeoutMs = 5000;
/** The pause between requests: about 60 a second, alternating over the paths. */
const pauseMs = 15;
const warmUp = 10;

/** Runs the probe in another Node process for `durationMs` and resolves with what it measured. */
export function probeFromAnotherProcess(base: string, paths: readonly string[], durationMs: number): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', thisFile, base, String(durationMs), ...paths], { cwd: projectDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`latency probe exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out) as ProbeResult);
      } catch (error) {
        reject(new Error(`latency probe printed no result: ${String(error)}: ${out.slice(0, 500)} ${err.slice(-1000)}`));
      }
    });
  });
}

function once(base: URL, path: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = get({ host: base.hostname, port: base.port, path, agent: false, timeout: requestTimeoutMs }, (response) => {
      response.resume();
      response.on('end', () => (response.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`${path}: ${response.statusCode}`))));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`${path}: no answer within ${requestTimeoutMs} ms`)));
    request.on('error', reject);
  });
}

async function probe(base: URL, durationMs: number, paths: readonly string[]): Promise<ProbeResult> {
  const result: ProbeResult = { latencies: Object.fromEntries(paths.map((path) => [path, []])), failures: [] };
  // The probe's own first requests (its JIT, its first sockets) are not the daemon's latency.
  for (let i = 0; i < warmUp; i++) await once(base, paths[i % paths.length]!).catch(() => undefined);
  const until = performance.now() + durationMs;
  for (let i = 0; performance.now() < until; i++) {
    const path = paths[i % paths.length]!;
    try {
      result.latencies[path]!.push(await once(base, path));
    } catch (error) {
      result.failures.push((error as Error).message);
    }
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return result;
}

if (process.argv[1] === thisFile) {
  const [base, duration, ...paths] = process.argv.slice(2);
  const result = await probe(new URL(base!), Number(duration), paths);
  process.stdout.write(JSON.stringify(result));
}
