import { rmSync } from 'node:fs';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { RetentionPolicy, RunRetention } from '../store/retention.js';
import { runLogFile } from './execute-run.js';

const batchSize = 200;
const vacuumPages = 512;

/**
 * Retention on a schedule: old runs, their task results and their log files go in small batches, yielding to
 * the event loop between batches so the API never pauses for long; then freed pages go back to the file
 * system, the WAL is checkpointed, and the git mirror is garbage-collected when it has grown.
 */
export class Pruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult> | undefined;

  constructor(
    private readonly deps: {
      retention: RunRetention;
      policy: () => RetentionPolicy;
      stateDir: () => string;
      /** Garbage-collects the git mirror (between fetches). */
      gc: () => Promise<void>;
      log: Logger;
    },
  ) {}

  /** Prunes `firstAfterMs` from now and every `everyMs` after that. */
  start(everyMs = 10 * 60_000, firstAfterMs = 60_000): void {
    const tick = (delay: number): void => {
      this.timer = setTimeout(() => {
        void this.prune().finally(() => tick(everyMs));
      }, delay);
      this.timer.unref();
    };
    tick(firstAfterMs);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  /** One pass; a pass already going is joined rather than doubled. */
  prune(): Promise<PruneResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<PruneResult> {
    const started = Date.now();
    const { retention, log } = this.deps;
    let runs = 0;
    try {
      for (;;) {
        const ids = retention.candidates(this.deps.policy(), new Date(), batchSize);
        if (ids.length === 0) break;
        runs += retention.remove(ids);
        for (const id of ids) rmSync(runLogFile(this.deps.stateDir(), id), { force: true });
        await yieldToEvents();
      }
      let pages = 0;
      for (let freed = retention.vacuum(vacuumPages); freed > 0; freed = retention.vacuum(vacuumPages)) {
        pages += freed;
        await yieldToEvents();
      }
      retention.checkpoint();
      await this.deps.gc().catch((error: unknown) => log.warn({ err: messageOf(error) }, 'git gc of the mirror failed'));
      const result = { runs, pages, ms: Date.now() - started };
      if (runs > 0 || pages > 0) log.info(result, 'pruned old runs');
      return result;
    } catch (error) {
      log.error({ err: messageOf(error) }, 'pruning failed');
      return { runs, pages: 0, ms: Date.now() - started };
    }
  }
}

export type PruneResult = { runs: number; pages: number; ms: number };
