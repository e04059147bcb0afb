/**
 * What the benchmarks of issue 12 share: arguments, statistics, the one result shape run-all.ts renders, timed
 * child processes, and samplers that read /proc (memory, CPU, ansible-playbook processes) without spawning.
 * Nothing here starts a daemon or a host: the test helpers do that.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { sleep } from '../test/helpers/wait.js';

export const projectDir = fileURLToPath(new URL('..', import.meta.url));

const argv = process.argv.slice(2);
/** `--quick`: small sizes and few rounds, for checking that a benchmark works (its figures mean little). */
export const quick = argv.includes('--quick');

/** A numeric option `--name N`, else `fallback` (or `quickFallback` with --quick). */
export function option(name: string, fallback: number, quickFallback = fallback): number {
  const at = argv.indexOf(name);
  const given = at >= 0 ? Number(argv[at + 1]) : Number.NaN;
  return Number.isFinite(given) && given > 0 ? given : quick ? quickFallback : fallback;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `median 12 ms (min 9, max 30, n=5)`: a line of figures for the benches that print rather than emit. */
export function describeMs(values: readonly number[]): string {
  return `median ${median(values).toFixed(0)} ms (min ${Math.min(...values).toFixed(0)}, max ${Math.max(...values).toFixed(0)}, n=${values.length})`;
}

export function round(value: number, digits = 2): number {
  return Number.isFinite(value) ? Number(value.toFixed(digits)) : value;
}

/** One figure a benchmark reports, with its goal when the issue sets one (`pass` is then computed). */
export type Figure = {
  name: string;
  value: number | string | null;
  unit?: string;
  goal?: { op: '<=' | '>=' | '=='; value: number };
  /** How the figure was obtained (a ratio of which medians, a formula). */
  how?: string;
};

/** Every sample of one measured quantity, in the order taken. */
export type Series = { name: string; unit: string; samples: number[] };

export type BenchResult = {
  id: string;
  title: string;
  quick: boolean;
  command: string;
  figures: Figure[];
  series: Series[];
  notes: string[];
  /** Anything else worth keeping (run-all prints it as JSON). */
  detail?: unknown;
};

export function passes(figure: Figure): boolean | null {
  if (!figure.goal || typeof figure.value !== 'number' || !Number.isFinite(figure.value)) return null;
  const { op, value } = figure.goal;
  return op === '<=' ? figure.value <= value : op === '>=' ? figure.value >= value : figure.value === value;
}

/** A series with its samples rounded. */
export function series(name: string, unit: string, samples: readonly number[], digits = 2): Series {
  return { name, unit, samples: samples.map((v) => round(v, digits)) };
}

/** The command that runs this benchmark as it was run. */
export function commandLine(file: string): string {
  return ['node --import tsx', `bench/${file}`, ...argv].join(' ');
}

/** Prints the result as the last line of stdout (run-all parses it); progress goes to stderr. */
export function emit(result: Omit<BenchResult, 'quick'>): void {
  process.stdout.write(`${JSON.stringify({ ...result, quick }, null, 2)}\n`);
}

export function progress(message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const cleanups: Array<() => Promise<void> | void> = [];
let cleaningUp = false;

/** Registers what must be undone even when the benchmark is interrupted (SIGINT/SIGTERM from run-all). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

/** Runs the registered cleanups, newest first, once. */
export async function cleanup(): Promise<void> {
  if (cleaningUp) return;
  cleaningUp = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (error) {
      progress(`cleanup: ${String(error)}`);
    }
  }
}

/** Runs `main`, always cleans up (on SIGINT/SIGTERM too), exits non-zero on an error. A hard deadline keeps it bounded. */
export async function runBench(main: () => Promise<void>, deadlineMs: number): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const deadline = setTimeout(() => {
    progress(`deadline of ${Math.round(deadlineMs / 1000)} s passed: stopping`);
    void cleanup().finally(() => process.exit(3));
  }, deadlineMs);
  deadline.unref();
  try {
    await main();
  } catch (error) {
    progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
    clearTimeout(deadline);
  }
}

export { sleep };

// ---------------------------------------------------------------------------------------------- /proc

const ticksPerSecond = 100; // getconf CLK_TCK on Linux

type Stat = { pid: number; comm: string; state: string; ppid: number; cpuSeconds: number; childCpuSeconds: number };

/** /proc/<pid>/stat: name, parent, own CPU and the CPU of the children it has reaped. */
export function procStat(pid: number | 'self'): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  const n = (i: number): number => Number(fields[i]);
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: fields[0]!,
    ppid: n(1),
    cpuSeconds: (n(11) + n(12)) / ticksPerSecond,
    childCpuSeconds: (n(13) + n(14)) / ticksPerSecond,
  };
}

/** CPU seconds a process used itself plus what its reaped descendants used. */
export function treeCpuSeconds(pid: number | 'self'): number {
  const stat = procStat(pid);
  return stat ? stat.cpuSeconds + stat.childCpuSeconds : Number.NaN;
}

/** VmRSS of a process in MiB (NaN once it is gone). */
export function rssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function allStats(): Map<number, Stat> {
  const stats = new Map<number, Stat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(Number(name));
    if (stat && stat.state !== 'Z') stats.set(stat.pid, stat);
  }
  return stats;
}

/** The kernel keeps 15 characters of a name: a `#!` script runs under its own name, ansible-playbook. */
const isAnsiblePlaybook = (stat: Stat | undefined): boolean => stat?.comm === 'ansible-playboo' || stat?.comm === 'ansible-playbook';

/**
 * Counts the runs of ansible-playbook below `root` at this moment: processes named ansible-playbook whose parent
 * is not one (Ansible's forked workers carry the same name). Only `root`'s descendants count, so other work on
 * the machine does not.
 */
export function topAnsibleProcesses(root: number): number {
  const stats = allStats();
  let count = 0;
  for (const stat of stats.values()) {
    if (!isAnsiblePlaybook(stat) || isAnsiblePlaybook(stats.get(stat.ppid))) continue;
    for (let p = stat.ppid, hops = 0; p > 1 && hops < 64; p = stats.get(p)?.ppid ?? 0, hops++) {
      if (p === root) {
        count++;
        break;
      }
    }
  }
  return count;
}

/** Samples `probe` every `everyMs` until stopped; keeps the peak and every sample. */
export function sampler(probe: () => number, everyMs: number): { stop(): { peak: number; samples: number[] } } {
  const samples: number[] = [];
  const take = (): void => {
    const value = probe();
    if (Number.isFinite(value)) samples.push(value);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { peak: samples.length ? Math.max(...samples) : Number.NaN, samples };
    },
  };
}

/** Processes whose command line contains `marker` (ssh control masters show their socket path). */
export function pidsMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) found.push(Number(name));
    } catch {
      // gone
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------- children

export type Timed = { ms: number; code: number | null; cpuSeconds: number; stdout: string; stderr: string };

/**
 * Runs a program to its end and times it from spawn to exit; `cpuSeconds` is what it and the descendants it
 * reaped used (this process's reaped-children CPU before and after). Output is kept (the tail) for errors.
 */
export async function timed(file: string, args: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Timed> {
  const before = procStat('self')?.childCpuSeconds ?? 0;
  const started = performance.now();
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString('utf8')).slice(-64 * 1024)));
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-16 * 1024)));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 600_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exit) => resolve(exit));
  }).finally(() => clearTimeout(timer));
  const ms = performance.now() - started;
  const cpuSeconds = (procStat('self')?.childCpuSeconds ?? 0) - before;
  return { ms, code, cpuSeconds, stdout, stderr };
}

/** Asks every SSH ControlPersist master with a socket under `dir` (any depth) to exit: the next run connects cold. */
export async function closeControlMasters(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const sockets: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isDirectory()) walk(path);
      else if (stat?.isSocket()) sockets.push(path);
    }
  };
  walk(dir);
  await Promise.all(
    sockets.map((socket) =>
      execa('ssh', ['-O', 'exit', '-o', `ControlPath=${socket}`, 'bench-control-master'], { reject: false, timeout: 5000, stdin: 'ignore' }),
    ),
  );
  // The master exits after answering; wait until its processes are gone so its CPU is not counted twice.
  for (let i = 0; i < 50 && pidsMentioning(dir).some((pid) => procStat(pid)?.comm === 'ssh'); i++) await sleep(20);
}

/** An environment without the caller's ANSIBLE_* settings: Ansible's own defaults. */
export function envWithoutAnsible(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('ANSIBLE_')) env[key] = value;
  return { ...env, ANSIBLE_NOCOLOR: '1', ...extra };
}

// ---------------------------------------------------------------------------------------------- HTTP load

export type LoadReport = { url: string; p50: number; p99: number; max: number; errors: number; non2xx: number; requests: number; rps: number };

/** autocannon as a child process (its own CPU, not ours) for `seconds` against `url`; --json parsed. */
export async function autocannon(url: string, seconds: number, connections: number): Promise<LoadReport> {
  const tool = join(projectDir, 'node_modules', 'autocannon', 'autocannon.js');
  const run = await timed(process.execPath, [tool, '--json', '-c', String(connections), '-d', String(seconds), url], {
    timeoutMs: (seconds + 30) * 1000,
  });
  if (run.code !== 0) throw new Error(`autocannon ${url} exited ${run.code}: ${run.stderr.slice(-500)}`);
  const report = JSON.parse(run.stdout) as {
    latency: { p50: number; p99: number; max: number };
    errors: number;
    timeouts: number;
    non2xx: number;
    requests: { total: number; average: number };
  };
  return {
    url,
    p50: report.latency.p50,
    p99: report.latency.p99,
    max: report.latency.max,
    errors: report.errors + report.timeouts,
    non2xx: report.non2xx,
    requests: report.requests.total,
    rps: report.requests.average,
  };
}

/** Times `count` sequential GETs of one path (a client reading the API, nothing else in flight). */
export async function getLatencies(base: string, path: string, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(`${base}${path}`);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
    times.push(performance.now() - started);
  }
  return times;
}
