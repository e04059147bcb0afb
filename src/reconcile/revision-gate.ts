import type { Logger } from '../log.js';
import type { InstalledRequirements, Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';

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
  private lastGood: Revision | undefined;

  constructor(
    private readonly deps: {
      runner: Runner;
      log: Logger;
      timeoutMs: number;
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

  /** Installs the revision's requirements once (concurrent callers share the install). */
  prepare(revision: Revision): Promise<InstalledRequirements> {
    const known = this.prepared.get(revision.sha);
    if (known) return known;
    const install = this.deps.runner.prepare(revision.root, revision.sha, this.deps.timeoutMs);
    this.prepared.set(revision.sha, install);
    install.then(
      () => {
        this.unusable.delete(revision.sha);
        this.lastGood = revision;
      },
      (error: unknown) => {
        this.unusable.add(revision.sha);
        this.prepared.delete(revision.sha);
        this.deps.log.error({ sha: revision.sha, err: String(error) }, 'revision cannot be prepared');
      },
    );
    return install;
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
}
