import { AsyncLocalStorage } from 'node:async_hooks';
import { FleetError } from './errors.js';

/**
 * A failure after which this process must not go on — the record can no longer be written (disk full, I/O
 * error) — with the run it happened in. A daemon that went on would serve a record it cannot keep.
 */
export class FatalError extends FleetError {
  readonly runId: number | undefined;

  constructor(message: string, options: { cause?: unknown; runId?: number } = {}) {
    super('store', message, { cause: options.cause });
    this.name = 'FatalError';
    this.runId = options.runId;
  }
}

type FatalHandler = (error: FatalError) => void;
let handler: FatalHandler | undefined;

/** Sets what a fatal error does to this process (the daemon's crash handler: log, kill, exit 70). */
export function onFatal(next: FatalHandler | undefined): void {
  handler = next;
}

/**
 * Hands a fatal error to the process's handler, which ends the process. Without one (an in-process test), the
 * error is thrown to the caller, and nothing that catches errors on the way may take it for an ordinary one.
 */
export function raiseFatal(error: FatalError): never {
  handler?.(error);
  throw error;
}

/** The run whose work is going on in this async context (set around a run's execution), for crash reports. */
const runScope = new AsyncLocalStorage<{ runId: number; target: string }>();

export function withRun<T>(run: { runId: number; target: string }, work: () => T): T {
  return runScope.run(run, work);
}

export function currentRun(): { runId: number; target: string } | undefined {
  return runScope.getStore();
}
