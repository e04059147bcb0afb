import { FatalError, raiseFatal } from '../fatal.js';
import { messageOf } from '../errors.js';
import { isStorageFailure } from '../store/db.js';

/**
 * Runs a write to a run's record. A write the storage refuses (disk full, I/O error, read-only, corrupt) is
 * fatal: the daemon cannot keep the record of what it is doing, so it stops (see crash.ts) rather than go on
 * with runs no record follows. Any other error is the caller's.
 */
export function writeRunRecord<T>(runId: number, what: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    if (error instanceof FatalError) throw error;
    if (isStorageFailure(error)) raiseFatal(new FatalError(`run ${runId}: cannot ${what}: ${messageOf(error)}`, { cause: error, runId }));
    throw error;
  }
}
