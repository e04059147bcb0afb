import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { execa } from 'execa';
import { FleetError } from '../errors.js';
import { ansibleArgv, type RunSpec } from './argv.js';
import { forEachLine } from './lines.js';
import { parseEventLine, type AnsibleEvent } from './events.js';

export type ProcessOptions = {
  env: Record<string, string>;
  logFile: string;
  timeoutMs: number;
  /** How long a stopped run gets between SIGTERM and SIGKILL. */
  killGraceMs: number;
  signal?: AbortSignal;
  onEvent: (event: AnsibleEvent) => void;
};

export type ProcessOutcome = {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The last lines Ansible wrote to stderr, for the run's error message. */
  stderrTail: string;
  durationMs: number;
};

const eventLineCap = 4 * 1024 * 1024;
const stderrTailBytes = 4096;

/**
 * Runs ansible-playbook in its own process group, streams its structured events from fd 3 and its text
 * output to the run's log file, and stops the whole group (SIGTERM, then SIGKILL after a grace) on timeout
 * or abort. Never throws for what Ansible did; the outcome says it.
 */
export async function runAnsiblePlaybook(spec: RunSpec, options: ProcessOptions): Promise<ProcessOutcome> {
  const started = Date.now();
  const log = createWriteStream(options.logFile, { flags: 'a', mode: 0o640 });
  let child;
  try {
    child = execa('ansible-playbook', ansibleArgv(spec), {
      cwd: spec.cwd,
      env: options.env,
      extendEnv: false,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      detached: true,
      buffer: false,
      reject: false,
      cleanup: false,
    });
  } catch (error) {
    log.end();
    throw new FleetError('runner', `cannot start ansible-playbook: ${String(error)}`, { cause: error });
  }

  let timedOut = false;
  let cancelled = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stopGroup = (): void => {
    signalGroup(child.pid, 'SIGTERM');
    killTimer ??= setTimeout(() => signalGroup(child.pid, 'SIGKILL'), options.killGraceMs);
  };
  const timeout = setTimeout(() => {
    timedOut = true;
    stopGroup();
  }, options.timeoutMs);
  const onAbort = (): void => {
    cancelled = true;
    stopGroup();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let stderrTail = '';
  child.stdout?.pipe(log, { end: false });
  child.stderr?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-stderrTailBytes);
  });
  const eventStream = child.stdio[3];
  const events = eventStream
    ? forEachLine(eventStream as NodeJS.ReadableStream as never, eventLineCap, (line) => {
        const event = parseEventLine(line);
        if (event) options.onEvent(event);
      })
    : Promise.resolve();

  const result = await child;
  await events.catch(() => undefined);
  clearTimeout(timeout);
  if (killTimer) clearTimeout(killTimer);
  options.signal?.removeEventListener('abort', onAbort);
  // Whatever Ansible left in its group (workers, ssh clients) goes with it.
  signalGroup(child.pid, 'SIGKILL');
  log.end();
  await once(log, 'close');
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    timedOut,
    cancelled,
    stderrTail: stderrTail.trim(),
    durationMs: Date.now() - started,
  };
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
