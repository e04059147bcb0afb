import { readFileSync } from 'node:fs';

/**
 * The start time of a process (clock ticks after boot, field 22 of /proc/<pid>/stat), or null when it is gone.
 * With the pid it names one process for good: a pid is reused, a (pid, start time) pair is not — within one
 * boot; after a reboot the ticks count from zero again, and a match is then as unlikely as the pid's own.
 */
export function processStartTicks(pid: number): number | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
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

/** The command line of a live process, its arguments joined by spaces, or null when it is gone. */
export function processCommandLine(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return null;
  }
}
