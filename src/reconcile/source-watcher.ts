import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { GitSource, Revision } from '../source/index.js';

export type SourceState = {
  revision: Revision | undefined;
  error: string | null;
  lastFetchAt: string | null;
};

/**
 * Polls the source and keeps the last good revision. A failed fetch leaves the current revision in use,
 * records the error, and retries sooner (backoff from 2 s doubling up to the poll interval).
 */
export class SourceWatcher {
  private current: Revision | undefined;
  private error: string | null = null;
  private lastFetchAt: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private inFlight: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    readonly source: GitSource,
    private readonly pollIntervalMs: number,
    private readonly log: Logger,
    private readonly onRevision: (revision: Revision, first: boolean) => void,
  ) {}

  get state(): SourceState {
    return { revision: this.current, error: this.error, lastFetchAt: this.lastFetchAt };
  }

  start(): void {
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Fetch now. Calls during a fetch coalesce into one more fetch after it. */
  poll(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    clearTimeout(this.timer);
    this.inFlight = this.fetchOnce().finally(() => {
      this.inFlight = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.poll();
      } else {
        this.schedule();
      }
    });
    return this.inFlight;
  }

  private async fetchOnce(): Promise<void> {
    try {
      const revision = await this.source.fetch();
      this.lastFetchAt = new Date().toISOString();
      this.error = null;
      this.failures = 0;
      if (revision.sha === this.current?.sha) return;
      const first = this.current === undefined;
      this.current = revision;
      this.log.info({ sha: revision.sha, ref: revision.ref, subject: revision.subject }, 'new revision');
      this.onRevision(revision, first);
    } catch (error) {
      this.lastFetchAt = new Date().toISOString();
      this.error = messageOf(error);
      this.failures += 1;
      this.log.warn({ err: this.error, failures: this.failures }, 'fetch failed; keeping the last good revision');
      await this.restoreLastGood();
    }
  }

  /** With nothing in use yet (a restart), a failed or refused fetch falls back to the last accepted revision on disk. */
  private async restoreLastGood(): Promise<void> {
    if (this.current || this.stopped) return;
    let revision: Revision | undefined;
    try {
      revision = await this.source.lastGood();
    } catch {
      return;
    }
    if (!revision) return;
    this.current = revision;
    this.log.warn({ sha: revision.sha, subject: revision.subject }, 'using the last good revision seen before');
    this.onRevision(revision, true);
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.failures === 0 ? this.pollIntervalMs : Math.min(this.pollIntervalMs, 2000 * 2 ** (this.failures - 1));
    this.timer = setTimeout(() => void this.poll(), delay);
    this.timer.unref();
  }
}
