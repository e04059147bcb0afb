import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from '../errors.js';

/**
 * One fleetcd process per state directory: the daemon for its lifetime, or a one-shot `check`/`apply` for
 * its run. Ansible's tools must not run concurrently against one inventory, and two processes would each
 * think they own the queue. A lock left by a process that no longer exists is taken over.
 */
export function lockStateDir(stateDir: string, role: string): () => void {
  mkdirSync(stateDir, { recursive: true });
  const file = join(stateDir, 'fleetcd.pid');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, `${process.pid} ${role}\n`);
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = readHolder(file);
      // The holder released the lock between our attempt and the read: try again.
      if (held === undefined) continue;
      const [pid, holder] = held;
      if (pid && isAlive(Number(pid))) {
        const hint = holder === 'serve' ? '; ask it with `fleetcd reconcile` instead' : '';
        throw new FleetError('conflict', `${stateDir} is in use by fleetcd ${holder ?? ''} (pid ${pid})${hint}`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new FleetError('conflict', `${file}: cannot take the state directory lock`);
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid and role in a lock file, or undefined when the file has just gone. */
export function readHolder(file: string): string[] | undefined {
  try {
    return readFileSync(file, 'utf8').trim().split(' ');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
