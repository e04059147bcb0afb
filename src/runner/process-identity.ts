import { processStartTicks } from '../process-start.js';

export { processStartTicks };

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
