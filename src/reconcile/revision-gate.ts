import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { InstalledRequirements, Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import { abortable } from './abortable.js';

/**
 * Which revision runs use. Each revision is prepared once (its requirements.yml installed); one that cannot
 * be prepared fails its own runs and is passed over afterwards for the last one that could, so scheduled
 * checks go on while the broken commit is reported. Also counts the revisions reconciles are running at,
 * so their checkouts outlive a newer commit.
 */
export class RevisionGate {
  private readonly prepared = new Map<string, Promise<InstalledRequirements>>();
  private readonly unusable = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  /** Stops installs in progress at shutdown; one reconcile's cancel only stops its own wait. */
  private readonly stopping = new AbortController();
  private lastGood: Revision | undefined;

  constructor(
    private readonly deps: {
      runner: () => Runner;
      log: Logger;
      timeoutMs: () => number;
      /** The newest revision the source accepted. */
      current: () => Revision | undefined;
    },
  ) {}

  /** The newest accepted revision, unless it could not be prepared: then the last one that could. */
  revision(): Revision | undefined {
    const current = this.deps.current();
    if (current && this.unusable.has(current.sha) && this.lastGood) return this.lastGood;
    return current;
  }

  /**
   * Installs the revision's requirements once: concurrent callers share the install, and a caller whose
   * signal aborts stops waiting at once (the install goes on for the others, unless the daemon stops).
   */
  prepare(revision: Revision, signal: AbortSignal): Promise<InstalledRequirements> {
    let install = this.prepared.get(revision.sha);
    if (!install) {
      install = this.deps.runner().prepare(revision.root, revision.sha, this.deps.timeoutMs(), this.stopping.signal);
      this.prepared.set(revision.sha, install);
      install.then(
        () => {
          this.unusable.delete(revision.sha);
          this.lastGood = revision;
        },
        (error: unknown) => {
          this.unusable.add(revision.sha);
          this.prepared.delete(revision.sha);
          this.deps.log.error({ sha: revision.sha, err: messageOf(error) }, 'revision cannot be prepared');
        },
      );
    }
    return abortable(install, signal);
  }

  /** Marks a revision as in use until the returned release is called. */
  hold(sha: string): () => void {
    this.inFlight.set(sha, (this.inFlight.get(sha) ?? 0) + 1);
    return () => {
      const left = (this.inFlight.get(sha) ?? 1) - 1;
      if (left > 0) this.inFlight.set(sha, left);
      else this.inFlight.delete(sha);
    };
  }

  /** Revisions whose checkouts must not be removed. */
  inUse(): Set<string> {
    const shas = [this.deps.current()?.sha, this.lastGood?.sha, ...this.inFlight.keys()];
    return new Set(shas.filter((sha): sha is string => Boolean(sha)));
  }

  /** Forgets that these revisions were prepared: their installs were pruned, the next use installs again. */
  forget(shas: Iterable<string>): void {
    for (const sha of shas) this.prepared.delete(sha);
  }

  /** Stops every install in progress (shutdown after the grace). */
  stop(): void {
    this.stopping.abort('shutdown');
  }
}
