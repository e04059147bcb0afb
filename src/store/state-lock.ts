import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from '../errors.js';
import { processCommandLine, processStartTicks } from '../process-start.js';

/**
 * One fleetcd process per state directory: the daemon for its lifetime, or a one-shot `check`/`apply` for
 * its run. Ansible's tools must not run concurrently against one inventory, and two processes would each
 * think they own the queue. The lock file holds the holder's pid, role and start time (clock ticks after boot,
 * /proc/<pid>/stat): a lock whose pid is gone, or now names another process (a pid reused after a crash and a
 * reboot), is taken over. It is removed when the holder exits, a crash's exit 70 included.
 */
export function lockStateDir(stateDir: string, role: string): () => void {
  mkdirSync(stateDir, { recursive: true, mode: 0o750 });
  const file = join(stateDir, 'fleetcd.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o640);
      writeSync(fd, `${[process.pid, role, processStartTicks(process.pid)].filter((field) => field !== null).join(' ')}\n`);
      closeSync(fd);
      return releaseOnExit(() => rmSync(file, { force: true }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = readHolder(file);
      // The holder released the lock between our attempt and the read: try again.
      if (held === undefined) continue;
      const [pid, holder, start] = held;
      if (pid && isHolderAlive(Number(pid), start)) {
        const hint = holder === 'serve' ? '; ask it with `fleetcd reconcile` instead' : '';
        throw new FleetError('conflict', `${stateDir} is in use by fleetcd ${holder ?? ''} (pid ${pid})${hint}`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new FleetError('conflict', `${file}: cannot take the state directory lock`);
}

/**
 * Whether the process that wrote the lock still runs: its pid is alive with the recorded start time. A lock
 * written before start times were recorded counts as held only by a live process whose command line names
 * fleetcd.
 */
function isHolderAlive(pid: number, start: string | undefined): boolean {
  const ticks = processStartTicks(pid);
  if (ticks === null) return false;
  if (start !== undefined && start !== '') return String(ticks) === start;
  return /fleetcd/.test(processCommandLine(pid) ?? '');
}

/** `release`, also run if the process exits still holding the lock (a crash's process.exit among them). */
function releaseOnExit(release: () => void): () => void {
  let released = false;
  const once = (): void => {
    if (released) return;
    released = true;
    process.off('exit', once);
    release();
  };
  process.on('exit', once);
  return once;
}

/** The pid, role and start time in a lock file, or undefined when the file has just gone. */
export function readHolder(file: string): string[] | undefined {
  try {
    return readFileSync(file, 'utf8').trim().split(' ');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
