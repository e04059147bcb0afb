import { messageOf } from '../errors.js';
import { FatalError } from '../fatal.js';
import type { Logger } from '../log.js';
import type { RunStore } from '../store/runs.js';
import type { TaskResult } from '../store/types.js';
import { writeRunRecord } from './record-writes.js';

/**
 * Writes a run's task results as they stream in, one transaction per burst: events arrive in bursts (one read
 * of Ansible's event pipe holds many), and a commit per result bounded the intake at ~19,000 results/s. The
 * burst is written on the next turn of the event loop, so memory holds at most one read's worth of results.
 */
export class TaskWriter {
  private pending: TaskResult[] = [];

  constructor(
    private readonly store: Pick<RunStore, 'addTasks' | 'addTask'>,
    private readonly runId: number,
    private readonly log: Logger,
  ) {}

  add(result: TaskResult): void {
    this.pending.push(result);
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  /** Writes what is pending now (the run's end calls it before the run is settled). */
  flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      writeRunRecord(this.runId, 'record its task results', () => this.store.addTasks(this.runId, batch));
    } catch (error) {
      if (error instanceof FatalError) throw error;
      // One result that cannot be stored must not lose the others of its burst, nor take the daemon down.
      // A full disk or an I/O error is another matter: that is fatal (record-writes.ts).
      for (const result of batch) {
        try {
          writeRunRecord(this.runId, 'record a task result', () => this.store.addTask(this.runId, result));
        } catch (error) {
          if (error instanceof FatalError) throw error;
          this.log.error({ runId: this.runId, host: result.host, task: result.task, err: messageOf(error) }, 'could not record a task result');
        }
      }
    }
  }
}
