import { setPriority } from 'node:os';
import type { Readable } from 'node:stream';
import { execa } from 'execa';
import { messageOf } from '../errors.js';
import { ansibleArgv, type RunSpec } from './argv.js';
import { CappedLog } from './capped-log.js';
import { headOf, parseEventLine, type AnsibleEvent } from './events.js';
import { forEachLine } from './lines.js';
import { GroupSupervisor } from './process-group.js';
import { processStartTicks } from './process-identity.js';
import { neverStarted, spawnFailure } from './spawn-error.js';
import { WarningCollector } from './warnings.js';
import { watchedCommand } from './watchdog.js';

export type ProcessOptions = {
  env: Record<string, string>;
  logFile: string;
  /** The log's size cap (retention.maxLogSize): beyond it the head and the tail are kept. */
  maxLogBytes: number;
  timeoutMs: number;
  /** How long a stopped run gets between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Niceness for ansible-playbook (its workers and ssh inherit it): 0 leaves it as the daemon's. */
  nice?: number;
  signal?: AbortSignal;
  /** Called once the process runs, with its process group and its leader's start time (crash recovery). */
  onSpawn?: (pgid: number, startTicks: number | null) => void;
  onEvent: (event: AnsibleEvent) => void;
  /** A line on the event pipe that fits no event's schema (or is over the line cap): its first 200 bytes. */
  onMalformedEvent?: (head: string) => void;
};

export type ProcessOutcome = {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The last lines Ansible wrote to stderr, for the run's error message. */
  stderrTail: string;
  /** Ansible's `[WARNING]` messages. */
  warnings: string[];
  /** Set when ansible-playbook could not be started at all: the command and the OS's reason. */
  startError: string | null;
  /** Set when the run's log could not be written (disk full, permissions): the run was stopped for it. */
  logError: string | null;
  durationMs: number;
};

const eventLineCap = 4 * 1024 * 1024;
const stderrLineCap = 64 * 1024;
const stderrTailBytes = 4096;

/**
 * Runs ansible-playbook in its own process group, streams its structured events from fd 3 and its text
 * output to the run's log file, and stops the whole group (SIGTERM, then SIGKILL after a grace) on timeout,
 * abort or a log it cannot write, and — by the watchdog in the group (watchdog.ts) — when this daemon dies.
 * Never throws for what Ansible or the OS did; the outcome says it.
 */
export async function runAnsiblePlaybook(spec: RunSpec, options: ProcessOptions): Promise<ProcessOutcome> {
  const started = Date.now();
  let logError: string | null = null;
  // A stream reports errors on a later tick, by when this is the child's stop: a log that cannot be written stops the run.
  let stopOnLogError = (): void => undefined;
  const log = new CappedLog(options.logFile, options.maxLogBytes, (error) => {
    logError ??= `cannot write the run log ${options.logFile}: ${messageOf(error)}`;
    stopOnLogError();
  });
  const command = watchedCommand('ansible-playbook', ansibleArgv(spec), options.env.PATH, spec.cwd);
  const child = execa(command.file, command.args, {
    cwd: spec.cwd,
    env: options.env,
    extendEnv: false,
    // fd 3: the callback plugin's events; fd 4: the watchdog's socket, which the daemon holds open until the group ends.
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
    buffer: false,
    reject: false,
    cleanup: false,
  });
  const pgid = child.pid;
  // Set before Ansible forks its workers, which inherit it.
  if (pgid && options.nice) setPriorityOf(pgid, options.nice);
  const group = new GroupSupervisor(pgid, options);
  stopOnLogError = () => group.stop();
  // Once Ansible itself has exited, its group (the watchdog, anything it left) goes: the watchdog holds the
  // socket open, and the wait for the child's streams would otherwise wait for it.
  child.once('exit', () => group.end());
  if (pgid) options.onSpawn?.(pgid, processStartTicks(pgid));

  const writeLog = (chunk: Buffer): void => {
    if (!logError) log.write(chunk);
  };
  child.stdout?.on('data', writeLog);
  let stderrTail = '';
  const warnings = new WarningCollector();
  child.stderr?.on('data', (chunk: Buffer) => {
    writeLog(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-stderrTailBytes);
  });
  const stderrLines = child.stderr ? forEachLine(child.stderr, stderrLineCap, (line) => warnings.push(line)) : Promise.resolve();
  const eventStream = child.stdio[3] as Readable | undefined;
  const events = eventStream
    ? forEachLine(
        eventStream,
        eventLineCap,
        (line) => {
          const event = parseEventLine(line);
          if (event) options.onEvent(event);
          else options.onMalformedEvent?.(headOf(line));
        },
        (head) => options.onMalformedEvent?.(headOf(head)),
      )
    : Promise.resolve();

  const result = await child;
  await Promise.all([events.catch(() => undefined), stderrLines.catch(() => undefined)]);
  warnings.flush();
  // Whatever Ansible left in its group (workers, ssh clients) goes with it.
  group.end();
  await log.close();
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut: group.timedOut,
    cancelled: group.cancelled,
    stderrTail: stderrTail.trim(),
    warnings: warnings.warnings,
    startError: pgid && !neverStarted(result) ? null : spawnFailure('ansible-playbook', result, options.env, spec.cwd),
    logError,
    durationMs: Date.now() - started,
  };
}

function setPriorityOf(pid: number, nice: number): void {
  try {
    setPriority(pid, nice);
  } catch {
    // The process is already gone, or the system refuses: Ansible runs at the daemon's priority.
  }
}
