import PQueue from 'p-queue';
import type { Config } from '../config/index.js';
import { FleetError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import { KeyedQueue } from './keyed-queue.js';
import { runPipeline, type PipelineDeps } from './pipeline.js';
import { Reconcile, type ReconcileRequest } from './reconcile.js';
import { RevisionGate } from './revision-gate.js';
import { resolveTargets, type Target } from './targets.js';

export type { ReconcileRequest } from './reconcile.js';

export type ReconcilerDeps = {
  config: () => Config;
  store: RunStore;
  runner: () => Runner;
  log: Logger;
  /** The newest revision the source accepted. */
  revision: () => Revision | undefined;
};

/**
 * Takes reconcile requests and runs them: per target one reconcile at a time with at most one waiting behind
 * it (requests join the waiting one), and across targets at most `reconcile.concurrency` ansible-playbook
 * processes at once. What a reconcile does is its pipeline (pipeline.ts).
 */
export class Reconciler {
  private readonly slots: PQueue;
  private readonly queue: KeyedQueue<Reconcile>;
  /** Every run id of a reconcile in progress, for cancel. */
  private readonly byRun = new Map<number, Reconcile>();
  /** Reconciles taken out of the queue (cancelled or stopped before they ran) that are recording that. */
  private readonly evicted = new Set<Reconcile>();
  private readonly revisions: RevisionGate;
  private readonly pipeline: PipelineDeps;
  /** Targets per revision checkout, for the config they were worked out with. */
  private targetsOf = new Map<string | undefined, Target[]>();
  private targetsConfig: Config | undefined;
  private stopping = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.slots = new PQueue({ concurrency: deps.config().reconcile.concurrency });
    this.revisions = new RevisionGate({
      runner: deps.runner,
      log: deps.log,
      timeoutMs: () => deps.config().reconcile.timeoutMs,
      current: deps.revision,
    });
    this.queue = new KeyedQueue((reconcile) => this.run(reconcile));
    this.pipeline = {
      config: deps.config,
      store: deps.store,
      runner: deps.runner,
      log: deps.log,
      revisions: this.revisions,
      slots: this.slots,
      resolveTarget: (name, revision) => this.targetsAt(revision.root).find((t) => t.name === name),
      isStopping: () => this.stopping,
      onRunCreated: (reconcile, runId) => {
        reconcile.runIds.add(runId);
        this.byRun.set(runId, reconcile);
      },
    };
  }

  /** The targets of the revision in use, with their effective settings. */
  list(): Target[] {
    return this.targetsAt(this.revision()?.root);
  }

  /** The revision runs use (see RevisionGate). */
  revision(): Revision | undefined {
    return this.revisions.revision();
  }

  /** True while a reconcile of the target is queued or running. */
  isBusy(name: string): boolean {
    return this.queue.isBusy(name);
  }

  /** Revisions that runs are using now; their checkouts must not be removed. */
  revisionsInUse(): Set<string> {
    return this.revisions.inUse();
  }

  /** How many reconciles wait and how many ansible-playbook processes run (metrics, status). */
  load(): { queued: number; running: number } {
    return { queued: this.slots.size, running: this.slots.pending };
  }

  /**
   * Queues a reconcile of the named targets (all when none), returning per target the run that will execute
   * first. Unknown names are refused before anything is queued.
   */
  request(names: readonly string[] | undefined, request: ReconcileRequest): Array<{ id: number; target: string }> {
    if (this.stopping) throw new FleetError('conflict', 'fleetcd is shutting down; no new runs are accepted');
    const revision = this.revision();
    if (!revision) throw new FleetError('conflict', 'no revision has been fetched yet; see source.error in the status', { retryable: true });
    const known = new Set(this.list().map((t) => t.name));
    const unknown = (names ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new FleetError('not-found', `unknown target: ${unknown.join(', ')}`);
    const chosen = names && names.length > 0 ? [...new Set(names)] : [...known];
    return chosen.map((name) => ({ id: this.enqueue(name, revision, request).id, target: name }));
  }

  /** Resolves when every reconcile queued so far has finished (one-shot verbs and tests wait on this). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.queue.jobs(), ...this.evicted];
      if (pending.length === 0) break;
      await Promise.all(pending.map((reconcile) => reconcile.done));
    }
    await this.slots.onIdle();
  }

  /** Stops a queued or running run; false when it is neither. */
  cancel(runId: number): boolean {
    const reconcile = this.byRun.get(runId);
    const run = this.deps.store.get(runId);
    if (!reconcile || (run?.status !== 'queued' && run?.status !== 'running')) return false;
    this.deps.log.info({ target: reconcile.key, runId }, 'cancelling');
    this.stop(reconcile, 'cancel');
    return true;
  }

  /**
   * Stops taking work: what has not started ends `interrupted` now, running runs get `graceMs` to finish,
   * then they are stopped. Every run ends in a recorded final state.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    // Only ansible-playbook processes get the grace; a reconcile still preparing or waiting for a slot ends now,
    // and so does any requirements install.
    for (const reconcile of this.queue.jobs()) if (!reconcile.executing) this.stop(reconcile, 'shutdown');
    this.revisions.stop();
    const timer = setTimeout(() => {
      for (const reconcile of this.queue.jobs()) this.stop(reconcile, 'shutdown');
    }, graceMs);
    await this.idle();
    clearTimeout(timer);
    await this.deps.runner().closeControlMasters();
  }

  private enqueue(name: string, revision: Revision, request: ReconcileRequest): Reconcile {
    // A reconcile whose check has not started joins the request, if it runs (or will run) at this revision.
    const joined = this.queue.joinable(name, (r) => !r.executed && (r.revision ?? revision.sha) === revision.sha);
    if (joined) {
      joined.join(request);
      return joined;
    }
    const id = this.deps.store.create({ target: name, kind: 'check', trigger: request.trigger, revision: revision.sha });
    const reconcile = new Reconcile(name, id, request);
    this.byRun.set(id, reconcile);
    this.queue.add(reconcile);
    return reconcile;
  }

  /** Aborts a reconcile; one still waiting in the queue is taken out and records its end at once. */
  private stop(reconcile: Reconcile, reason: 'cancel' | 'shutdown'): void {
    reconcile.abort(reason);
    if (!this.queue.remove(reconcile)) return;
    this.evicted.add(reconcile);
    void this.run(reconcile).finally(() => this.evicted.delete(reconcile));
  }

  private async run(reconcile: Reconcile): Promise<void> {
    await runPipeline({ reconcile, deps: this.pipeline, open: { id: reconcile.id, kind: 'check' } });
    for (const id of reconcile.runIds) this.byRun.delete(id);
    reconcile.finished();
  }

  /**
   * Targets of a revision with their effective settings. A checkout never changes and the config only by a
   * reload, so they are worked out once per revision and config.
   */
  private targetsAt(root: string | undefined): Target[] {
    const config = this.deps.config();
    if (this.targetsConfig !== config) this.targetsOf.clear();
    this.targetsConfig = config;
    let targets = this.targetsOf.get(root);
    if (targets) return targets;
    targets = resolveTargets(config, root);
    if (this.targetsOf.size >= 8) this.targetsOf.clear();
    this.targetsOf.set(root, targets);
    return targets;
  }
}
