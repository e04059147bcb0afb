import { readFileSync } from 'node:fs';

/**
 * The start time of a process (clock ticks after boot, field 22 of /proc/<pid>/stat), or null when it is gone.
 * With the pid it names one process for good: a pid is reused, a (pid, start time) pair is not.
 */
export function processStartTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isFinite(ticks) ? ticks : null;
}

/** Sends `signal` to a whole process group; false when the group is already gone. */
export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): boolean {
  if (!pgid) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills the process group a dead daemon's run left behind, but only when its leader is still that very process
 * (same pid and start time): a pid reused by an unrelated process is never touched. True when it killed one.
 */
export function killOrphanGroup(pgid: number, startTicks: number | null): boolean {
  if (startTicks === null || processStartTicks(pgid) !== startTicks) return false;
  return signalGroup(pgid, 'SIGKILL');
}
