import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { InstalledRequirements, Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import { abortable } from './abortable.js';

/**
 * Who asks for a revision to be prepared. Only the fleet's own reconciles learn from a failure: a preview
 * prepares in its own lane, so what it fetched or what failed around it never changes what targets run.
 */
export type PrepareLane = 'fleet' | 'preview';

/**
 * Prepares revisions (installs each one's requirements.yml once) and remembers the tips that could not be
 * prepared, with why. It never picks a revision for anyone: what a target runs is the reconciler's choice
 * (contract note 19), and a prepared revision is not a candidate for it. Also counts the revisions reconciles
 * are running at, so their checkouts outlive a newer commit.
 */
export class RevisionGate {
  private readonly prepared = new Map<string, Promise<InstalledRequirements>>();
  /** Revisions a reconcile of the fleet failed to prepare, with the error, until one prepares it. */
  private readonly unusable = new Map<string, string>();
  private readonly inFlight = new Map<string, number>();
  /** Stops installs in progress at shutdown; one reconcile's cancel only stops its own wait. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly deps: {
      runner: () => Runner;
      log: Logger;
      timeoutMs: () => number;
      /** The newest revision the source accepted. */
      current: () => Revision | undefined;
    },
  ) {}

  /** The newest tip the source accepted, whether or not it could be prepared (see `whyUnusable`). */
  revision(): Revision | undefined {
    return this.deps.current();
  }

  /** Why a reconcile of the fleet could not prepare this revision, or undefined. */
  whyUnusable(sha: string): string | undefined {
    return this.unusable.get(sha);
  }

  /**
   * Installs the revision's requirements once: concurrent callers share the install, and a caller whose
   * signal aborts stops waiting at once (the install goes on for the others, unless the daemon stops). A
   * failure seen by the fleet's lane marks the revision unusable; one seen only by a preview does not.
   */
  prepare(revision: Revision, signal: AbortSignal, lane: PrepareLane): Promise<InstalledRequirements> {
    let install = this.prepared.get(revision.sha);
    if (!install) {
      install = this.deps.runner().prepare(revision.root, revision.sha, this.deps.timeoutMs(), this.stopping.signal);
      this.prepared.set(revision.sha, install);
      install.then(
        () => this.unusable.delete(revision.sha),
        (error: unknown) => {
          this.prepared.delete(revision.sha);
          this.deps.log.error({ sha: revision.sha, lane, err: messageOf(error) }, 'revision cannot be prepared');
        },
      );
    }
    if (lane === 'fleet') {
      install.catch((error: unknown) => {
        if (!this.stopping.signal.aborted) this.unusable.set(revision.sha, messageOf(error));
      });
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
    const shas = [this.deps.current()?.sha, ...this.inFlight.keys()];
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
