import PQueue from 'p-queue';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { RunSummary, Trigger } from '../store/types.js';
import { decideApply } from './decide.js';
import { executeRun, type RunToExecute } from './execute-run.js';
import { RevisionGate } from './revision-gate.js';
import { resolveTargets, type Target } from './targets.js';

export type ReconcileRequest = {
  trigger: Trigger;
  /** `check` never applies; `apply` applies whatever the target's mode; unset follows the mode. */
  mode?: 'check' | 'apply';
};

type Pending = {
  runId: number;
  request: ReconcileRequest;
  /** Stops the reconcile's first run, from the moment it is taken up. */
  controller: AbortController;
  /** The revision it runs at, once taken up. */
  sha?: string;
  done: Promise<void>;
  resolve: () => void;
};
type Active = { runId: number; controller: AbortController };
/**
 * `pending` waits for the target's current reconcile to end; `waiting` has been taken up but its first run
 * still waits for a queue slot. Both are "queued" to a client, so both can be joined.
 */
type TargetState = { pending?: Pending; waiting?: Pending; active?: Active; busy: boolean };

/**
 * Decides and runs reconciles. Per target, at most one reconcile runs at a time and at most one waits
 * behind it: a request for a target that already has one waiting joins it. Across targets, the queue caps
 * how many ansible-playbook processes run at once.
 */
export class Reconciler {
  private readonly queue: PQueue;
  private readonly targets = new Map<string, TargetState>();
  private readonly revisions: RevisionGate;
  private targetsOf: { root: string | undefined; targets: Target[] } | undefined;
  private stopping = false;

  constructor(
    private readonly deps: {
      config: Config;
      store: RunStore;
      runner: Runner;
      log: Logger;
      revision: () => Revision | undefined;
    },
  ) {
    this.queue = new PQueue({ concurrency: deps.config.reconcile.concurrency });
    this.revisions = new RevisionGate({
      runner: deps.runner,
      log: deps.log,
      timeoutMs: deps.config.reconcile.timeoutMs,
      current: deps.revision,
    });
  }

  /**
   * The targets of the current revision, with their effective settings. A checkout never changes and the
   * config is frozen, so they are worked out once per revision, not on every status request.
   */
  list(): Target[] {
    const root = this.revision()?.root;
    if (this.targetsOf && this.targetsOf.root === root) return this.targetsOf.targets;
    const targets = resolveTargets(this.deps.config, root);
    this.targetsOf = { root, targets };
    return targets;
  }

  /** The revision runs use (see RevisionGate). */
  revision(): Revision | undefined {
    return this.revisions.revision();
  }

  /** True while a reconcile of the target is queued or running. */
  isBusy(name: string): boolean {
    const state = this.targets.get(name);
    return Boolean(state?.pending || state?.busy);
  }

  /** Revisions that runs are using now; their checkouts must not be removed. */
  revisionsInUse(): Set<string> {
    return this.revisions.inUse();
  }

  /**
   * Queues a reconcile of the named targets (all when none), returning per target the run that will execute
   * first. Unknown names are refused before anything is queued.
   */
  request(names: readonly string[] | undefined, request: ReconcileRequest): Array<{ id: number; target: string }> {
    if (this.stopping) throw new FleetError('conflict', 'fleetcd is shutting down; no new runs are accepted');
    const revision = this.revision();
    if (!revision) throw new FleetError('conflict', 'no revision has been fetched yet; see source.error in the status', { retryable: true });
    const known = new Map(this.list().map((t) => [t.name, t]));
    const unknown = (names ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new FleetError('not-found', `unknown target: ${unknown.join(', ')}`);
    const chosen = names && names.length > 0 ? [...new Set(names)] : [...known.keys()];
    return chosen.map((name) => ({ id: this.enqueue(name, revision, request).runId, target: name }));
  }

  /** Resolves when every reconcile queued so far has finished (one-shot verbs and tests wait on this). */
  async idle(): Promise<void> {
    for (;;) {
      const waiting = [...this.targets.values()].flatMap((s) => (s.pending ? [s.pending.done] : []));
      const busy = [...this.targets.values()].some((s) => s.busy);
      if (waiting.length === 0 && !busy) return;
      await Promise.all(waiting);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops a queued or running run; false when it is neither. */
  cancel(runId: number): boolean {
    for (const [name, state] of this.targets) {
      if (state.pending?.runId === runId) {
        this.deps.store.abandon(runId, 'cancelled', 'cancelled on request before it started');
        const pending = state.pending;
        state.pending = undefined;
        pending.resolve();
        this.deps.log.info({ target: name, runId }, 'queued run cancelled');
        return true;
      }
      const started = state.active?.runId === runId ? state.active : state.waiting?.runId === runId ? state.waiting : undefined;
      if (started) {
        started.controller.abort('cancel');
        return true;
      }
    }
    return false;
  }

  /**
   * Stops taking work, lets running runs finish for up to `graceMs`, then stops them. Every run ends in a
   * recorded final state.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const state of this.targets.values()) {
      if (!state.pending) continue;
      this.deps.store.abandon(state.pending.runId, 'interrupted', 'fleetcd stopped before this run started');
      state.pending.resolve();
      state.pending = undefined;
    }
    const finished = this.idle();
    const timer = setTimeout(() => {
      for (const state of this.targets.values()) {
        state.waiting?.controller.abort('shutdown');
        state.active?.controller.abort('shutdown');
      }
    }, graceMs);
    await finished;
    clearTimeout(timer);
    await this.deps.runner.closeControlMasters();
  }

  private enqueue(name: string, revision: Revision, request: ReconcileRequest): Pending {
    const state = this.targets.get(name) ?? { busy: false };
    this.targets.set(name, state);
    // A reconcile already taken up runs at the revision it read then: join it only at that same revision.
    const queued = state.pending ?? (state.waiting?.sha === revision.sha ? state.waiting : undefined);
    if (queued) {
      // Join the queued reconcile; an explicit apply or check wins over following the mode.
      queued.request = { ...queued.request, mode: request.mode ?? queued.request.mode };
      return queued;
    }
    const runId = this.deps.store.create({ target: name, kind: 'check', trigger: request.trigger, revision: revision.sha });
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const pending: Pending = { runId, request, controller: new AbortController(), done, resolve };
    state.pending = pending;
    if (!state.busy) void this.drain(name, state);
    return pending;
  }

  /** Runs the target's waiting reconcile, then the next one that arrived meanwhile, one at a time. */
  private async drain(name: string, state: TargetState): Promise<void> {
    state.busy = true;
    try {
      while (state.pending && !this.stopping) {
        const pending = state.pending;
        state.pending = undefined;
        state.waiting = pending;
        try {
          await this.reconcile(name, state, pending);
        } catch (error) {
          this.deps.log.error({ target: name, err: messageOf(error) }, 'reconcile failed unexpectedly');
          this.deps.store.abandon(pending.runId, 'interrupted', messageOf(error));
        } finally {
          if (state.waiting === pending) state.waiting = undefined;
          pending.resolve();
        }
      }
    } finally {
      state.busy = false;
    }
  }

  /** Picks the revision and target for a reconcile and keeps that revision's checkout from pruning meanwhile. */
  private async reconcile(name: string, state: TargetState, pending: Pending): Promise<void> {
    const { store } = this.deps;
    const revision = this.revision();
    const target = this.list().find((t) => t.name === name);
    if (!revision || !target) {
      store.abandon(pending.runId, 'interrupted', `target ${name} no longer exists at the current revision`);
      return;
    }
    pending.sha = revision.sha;
    const release = this.revisions.hold(revision.sha);
    try {
      await this.reconcileAt(name, state, pending, revision, target);
    } finally {
      release();
    }
  }

  /** One reconcile: check, then (by policy) apply and a verify check, each its own recorded run. */
  private async reconcileAt(
    name: string,
    state: TargetState,
    pending: Pending,
    revision: Revision,
    target: Target,
  ): Promise<void> {
    const { store, log } = this.deps;
    const requirements = await this.revisions.prepare(revision).catch((error: unknown) => {
      store.start(pending.runId, revision.sha, null);
      store.finish(pending.runId, { status: 'failed', exitCode: null, error: messageOf(error), hosts: new Map() });
      return null;
    });
    if (requirements === null) return;
    const trigger = pending.request.trigger;
    const run = (runId: number, check: boolean, limit?: string, controller = new AbortController()): Promise<RunSummary> =>
      this.runQueued(state, { id: runId, target, revision, check, limit, requirements }, controller);
    const check = await run(pending.runId, true, undefined, pending.controller);
    log.info({ target: name, runId: check.id, status: check.status, changed: check.summary.changed }, 'check finished');
    const mode = pending.request.mode === 'check' ? 'detect' : pending.request.mode === 'apply' ? 'apply' : target.mode;
    const detail = store.detail(check.id)!;
    const knownNonIdempotent = this.nonIdempotentTasks(name, revision.sha);
    const decision = decideApply({
      mode,
      status: check.status,
      exitCode: check.exitCode,
      driftedHosts: detail.hosts.filter((h) => h.changed > 0 && h.unreachable === 0).map((h) => h.host),
      changedTasks: [...new Set(detail.changes.map((c) => c.task))],
      revisionApplied: store.hasApplied(name, revision.sha),
      knownNonIdempotent,
    });
    if (!decision.apply || this.stopping) return;
    log.info({ target: name, reason: decision.reason, limit: decision.limit }, 'applying');
    const applyId = store.create({ target: name, kind: 'apply', trigger, revision: revision.sha, limit: decision.limit });
    store.setFollowedBy(check.id, applyId);
    const apply = await run(applyId, false, decision.limit);
    log.info({ target: name, runId: apply.id, status: apply.status, changed: apply.summary.changed }, 'apply finished');
    if (apply.status !== 'succeeded' || this.stopping) return;
    const verifyId = store.create({ target: name, kind: 'check', trigger, revision: revision.sha, limit: decision.limit });
    store.setFollowedBy(applyId, verifyId);
    const verify = await run(verifyId, true, decision.limit);
    if (verify.summary.changed > 0) {
      log.warn({ target: name, runId: verify.id, tasks: [...this.nonIdempotentTasks(name, revision.sha)] }, 'playbook is not idempotent');
    }
  }

  /** Waits for a slot in the queue, then executes the run; a cancel while waiting ends it there. */
  private async runQueued(
    state: TargetState,
    run: Omit<RunToExecute, 'signal'>,
    controller: AbortController,
  ): Promise<RunSummary> {
    const runId = run.id;
    state.active = { runId, controller };
    try {
      return await this.queue.add(async () => {
        if (state.waiting?.runId === runId) state.waiting = undefined;
        if (controller.signal.aborted) {
          const status = controller.signal.reason === 'shutdown' ? 'interrupted' : 'cancelled';
          this.deps.store.abandon(runId, status, `${status} before it started`);
          return this.deps.store.get(runId)!;
        }
        return executeRun(this.deps, { ...run, signal: controller.signal });
      });
    } finally {
      state.active = undefined;
    }
  }

  /** Task names that the verify check after the newest apply of this revision still reported as changing. */
  nonIdempotentTasks(name: string, revision: string): Set<string> {
    const verifyId = this.deps.store.latestVerifyCheck(name, revision);
    if (verifyId === undefined) return new Set();
    return new Set(this.deps.store.changedTasks(verifyId).map((c) => c.task));
  }
}
