import { messageOf } from './errors.js';
import { currentRun, FatalError, onFatal } from './fatal.js';
import { flushLogSync, type Logger } from './log.js';
import { killLiveGroups } from './runner/index.js';

/** EX_SOFTWARE: systemd restarts fleetcd (Restart=on-failure), unlike 78 for a config a person must fix. */
export const crashExitCode = 70;

/**
 * Process-level handlers for what must end the process: a fatal error (the record cannot be written), an
 * uncaught exception, an unhandled rejection. Each logs ONE fatal line — the error, its stack, the run it
 * belongs to where known (the error's, or the run whose callbacks were running) — kills the process groups of
 * the runs and gates still going (detached on purpose; their watchdogs would take them once we are gone, but
 * killing them here is certain, and logged), and exits 70. The
 * state lock goes with the exit (state-lock.ts); at the next start the run reads `interrupted`.
 */
export function installCrashHandlers(log: Logger, exit: (code: number) => never = (code) => process.exit(code)): void {
  let crashing = false;
  const crash = (error: unknown, what: string): void => {
    if (crashing) return;
    crashing = true;
    const run = error instanceof FatalError && error.runId !== undefined ? { runId: error.runId, target: currentRun()?.target } : currentRun();
    const killedGroups = killLiveGroups();
    // A fatal error's message names the run, what it could not write and SQLite's reason.
    const err = messageOf(error);
    const stack = error instanceof Error ? error.stack : undefined;
    log.fatal({ err, stack, ...run, killedGroups, exitCode: crashExitCode }, `${what}: fleetcd stops`);
    flushLogSync(log);
    exit(crashExitCode);
  };
  onFatal((error) => crash(error, 'the record cannot be written'));
  process.on('uncaughtException', (error) => crash(error, 'uncaught exception'));
  process.on('unhandledRejection', (reason) => crash(reason, 'unhandled rejection'));
}
