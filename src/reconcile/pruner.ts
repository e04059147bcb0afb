import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
 * the event loop between batches so the API never pauses for long; then what only they kept (previews, gate
 * results, source history, commits, host recaps) and the files beside the record (checkouts, installs, mirror
 * refs, leftovers, orphaned logs); then freed pages go back to the file system, the WAL is checkpointed, and
 * the git mirror is garbage-collected when it has grown.
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
      /** Revisions that must stay whatever their age: current, held, running (reconciles and previews). */
      inUse: () => ReadonlySet<string>;
      /** Prunes the files beside the record that follow revisions: checkouts, installs, mirror refs, leftovers. */
      files: (inUse: ReadonlySet<string>) => Promise<void>;
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
      const inUse = this.deps.inUse();
      const candidates = retention.candidates(this.deps.policy(), new Date(), passLimit);
      for (let i = 0; i < candidates.length; i += batchSize) {
        const ids = candidates.slice(i, i + batchSize);
        runs += retention.remove(ids);
        for (const id of ids) rmSync(runLogFile(this.deps.stateDir(), id), { force: true });
        await yieldToEvents();
      }
      const records = retention.pruneRecords(this.deps.policy(), new Date(), inUse);
      retention.pruneAudit(this.deps.policy(), new Date());
      retention.pruneWebhookDeliveries(new Date());
      for (const remove of this.others) remove(new Date(Date.now() - this.deps.policy().maxAgeMs));
      await this.deps.files(inUse).catch((error: unknown) => log.warn({ err: messageOf(error) }, 'could not prune old files'));
      const logs = this.sweepLogs();
      let pages = 0;
      for (let freed = retention.vacuum(vacuumPages); freed > 0; freed = retention.vacuum(vacuumPages)) {
        pages += freed;
        await yieldToEvents();
      }
      retention.checkpoint();
      await this.deps.gc().catch((error: unknown) => log.warn({ err: messageOf(error) }, 'git gc of the mirror failed'));
      const result = { runs, pages, ms: Date.now() - started };
      if (runs > 0 || pages > 0 || logs > 0 || Object.values(records).some((n) => n > 0)) log.info({ ...result, ...records, logs }, 'pruned old runs');
      return result;
    } catch (error) {
      log.error({ err: messageOf(error) }, 'pruning failed');
      return { runs, pages: 0, ms: Date.now() - started };
    }
  }

  /**
   * Log files whose run is gone (a crash between a run's removal and its file's), and tail segments of capped
   * logs whose run no longer runs (a crash before the tail was appended).
   */
  private sweepLogs(): number {
    const dir = join(this.deps.stateDir(), 'logs');
    if (!existsSync(dir)) return 0;
    const files = readdirSync(dir).flatMap((name) => {
      const match = /^run-(\d+)\.log(\.tail-\d+)?$/.exec(name);
      return match ? [{ name, id: Number(match[1]), tail: match[2] !== undefined }] : [];
    });
    const owners = this.deps.retention.logOwners([...new Set(files.map((file) => file.id))]);
    const orphans = files.filter((file) => owners.gone.has(file.id) || (file.tail && !owners.running.has(file.id)));
    for (const file of orphans) rmSync(join(dir, file.name), { force: true });
    return orphans.length;
  }
}

export type PruneResult = { runs: number; pages: number; ms: number };
