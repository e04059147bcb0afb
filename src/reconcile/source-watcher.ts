import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { RevisionRefused, type GitSource, type Revision } from '../source/index.js';

export type SourceState = {
  revision: Revision | undefined;
  error: string | null;
  lastFetchAt: string | null;
  /** When the next fetch (or, for a held error, the next look at the remote tip) is due. */
  nextAttemptAt: string | null;
};

/** An error a person must act on, and the remote tip it was about (null: no tip; undefined: not known). */
type Held = { message: string; tip: string | null | undefined };

const retryFloorMs = 2000;

/**
 * Polls the source and keeps the last good revision. Errors are read by their class (FleetError.retryable):
 * one that waiting can cure (a network fault, a busy mirror) is retried with backoff, 2 s doubling up to the
 * poll interval; one that needs a person (a refused signature, a missing branch, refused credentials) is held:
 * each poll only asks the remote for its tip (`git ls-remote`, nothing fetched or verified) and tries again
 * when that tip moved, or when a config reload makes a new watcher.
 */
export class SourceWatcher {
  private current: Revision | undefined;
  private error: string | null = null;
  private held: Held | undefined;
  private lastFetchAt: string | null = null;
  private nextAttemptAt: string | null = null;
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
    initial?: Revision,
    /** After every fetch attempt (and look at a held error's tip), with the state it left. */
    private readonly onAttempt: (state: SourceState) => void = () => undefined,
  ) {
    this.current = initial;
  }

  get state(): SourceState {
    return { revision: this.current, error: this.error, lastFetchAt: this.lastFetchAt, nextAttemptAt: this.nextAttemptAt };
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
    this.inFlight = this.attempt()
      .then(() => this.onAttempt(this.state))
      .finally(() => this.afterwards(true));
    return this.inFlight;
  }

  /** Runs `task` between fetches (never during one): mirror maintenance. A poll asked for meanwhile follows it. */
  async between<T>(task: () => Promise<T>): Promise<T> {
    while (this.inFlight) await this.inFlight.catch(() => undefined);
    const running = task();
    this.inFlight = running.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await running;
    } finally {
      this.afterwards(false);
    }
  }

  /** After a fetch or a maintenance task: a poll asked for meanwhile runs now; after a fetch the next is armed. */
  private afterwards(fetched: boolean): void {
    this.inFlight = undefined;
    if (this.again && !this.stopped) {
      this.again = false;
      void this.poll();
    } else if (fetched) {
      this.schedule();
    }
  }

  private async attempt(): Promise<void> {
    if (this.held && (await this.tipUnchanged(this.held))) return;
    try {
      const revision = await this.source.fetch();
      this.lastFetchAt = new Date().toISOString();
      this.error = null;
      this.held = undefined;
      this.failures = 0;
      if (revision.sha === this.current?.sha) return;
      const first = this.current === undefined;
      this.current = revision;
      this.log.info({ sha: revision.sha, ref: revision.ref, subject: revision.subject }, 'new revision');
      this.onRevision(revision, first);
    } catch (error) {
      await this.failed(error);
      this.lastFetchAt = new Date().toISOString();
      await this.restoreLastGood();
    }
  }

  private async failed(error: unknown): Promise<void> {
    const message = messageOf(error);
    if (error instanceof FleetError && !error.retryable) {
      const tip = error instanceof RevisionRefused ? error.sha : await this.remoteTip();
      this.held = { message, tip };
      this.failures = 0;
      this.error = `${message} (held: not fetched again until ${tipWords(tip)} or the config is reloaded)`;
      this.log.error({ err: message }, 'source needs attention; keeping the last good revision');
      return;
    }
    this.held = undefined;
    this.failures += 1;
    this.error = message;
    this.log.warn({ err: message, failures: this.failures }, 'fetch failed; keeping the last good revision; retrying');
  }

  /** For a held error: true (and nothing fetched) while the remote tip is what it was. */
  private async tipUnchanged(held: Held): Promise<boolean> {
    const tip = await this.remoteTip();
    this.lastFetchAt = new Date().toISOString();
    return tip === undefined || tip === held.tip;
  }

  /** The remote's tip of the watched ref: a sha, null when the ref does not exist, undefined when unknown. */
  private async remoteTip(): Promise<string | null | undefined> {
    try {
      return await this.source.remoteTip();
    } catch {
      return undefined;
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
    const delay =
      this.failures === 0 ? this.pollIntervalMs : Math.min(this.pollIntervalMs, retryFloorMs * 2 ** (this.failures - 1));
    this.nextAttemptAt = new Date(Date.now() + delay).toISOString();
    this.timer = setTimeout(() => void this.poll(), delay);
    this.timer.unref();
  }
}

function tipWords(tip: string | null | undefined): string {
  if (tip === null) return 'the ref appears';
  if (tip === undefined) return 'the remote answers with a tip';
  return `the tip moves from ${tip.slice(0, 12)}`;
}
