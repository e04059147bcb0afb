import { rmSync } from 'node:fs';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { RetentionPolicy, RunRetention } from '../store/retention.js';
import { runLogFile } from './execute-run.js';

/** Runs removed per transaction: small enough that the API waits a few milliseconds at most. */
const batchSize = 50;
/** Runs looked at per pass; what is left goes in the next pass. */
const passLimit = 100_000;
const vacuumPages = 128;

/**
 * Retention on a schedule: old runs, their task results and their log files go in small batches, yielding to
 * the event loop between batches so the API never pauses for long; then freed pages go back to the file
 * system, the WAL is checkpointed, and the git mirror is garbage-collected when it has grown.
 */
export class Pruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PruneResult> | undefined;
  /** Records kept as long as runs that live outside reconcile/ (notification deliveries): see `alsoPrune`. */
  private readonly others: Array<(cutoff: Date) => number> = [];

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

  /** Each pass also calls `remove` with the `retention.maxAge` cutoff (what it removes is its own to log). */
  alsoPrune(remove: (cutoff: Date) => number): void {
    this.others.push(remove);
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
      const candidates = retention.candidates(this.deps.policy(), new Date(), passLimit);
      for (let i = 0; i < candidates.length; i += batchSize) {
        const ids = candidates.slice(i, i + batchSize);
        runs += retention.remove(ids);
        for (const id of ids) rmSync(runLogFile(this.deps.stateDir(), id), { force: true });
        await yieldToEvents();
      }
      retention.pruneAudit(this.deps.policy(), new Date());
      retention.pruneWebhookDeliveries(new Date());
      for (const remove of this.others) remove(new Date(Date.now() - this.deps.policy().maxAgeMs));
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
