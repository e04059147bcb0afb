import type PQueue from 'p-queue';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { InstalledRequirements, Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { RunKind, RunResult, RunSummary } from '../store/types.js';
import { Aborted } from './abortable.js';
import { applyPolicy, decide, type Decision, type GateInput } from './decide.js';
import { precheckNeeded } from './precheck.js';
import { gateFailure, type PolicyGates } from './policy-gates.js';
import { executeRun } from './execute-run.js';
import type { Reconcile } from './reconcile.js';
import type { Controls } from './controls.js';
import type { HostLocks, HostSet } from './host-locks.js';
import type { RevisionGate } from './revision-gate.js';
import type { Target } from './targets.js';

/**
 * The reconcile of one target, as a fixed sequence of named steps:
 *
 *   prepare (revision, requirements) → plan → check → decide → apply → verify
 *
 * `plan` goes straight to `apply` when the check would only delay it (precheck.ts): a new revision in apply
 * mode that nothing holds. The reconcile's first run record then becomes that apply.
 *
 * Every step has one signature: it takes the reconcile's context and returns the next step, or the end.
 * A step that runs Ansible opens a run record and `execute` closes it; a step that throws (a failed install,
 * a cancel while waiting for a slot) leaves its open run to the driver. `settle` is the only writer of a
 * run's final state.
 *
 * A preview's check takes the same steps and ends after `check`: its revision is given (never picked), it is
 * prepared in the preview lane and it waits behind the targets' own runs for a slot.
 */
export const stepNames = ['prepare', 'plan', 'check', 'decide', 'apply', 'verify'] as const;
export type StepName = (typeof stepNames)[number];

type Next = { next: StepName } | { end: string };
type Step = (ctx: ReconcileContext) => Promise<Next>;

export type PipelineDeps = {
  config: () => Config;
  store: RunStore;
  runner: () => Runner;
  log: Logger;
  revisions: RevisionGate;
  /** The global cap on ansible-playbook processes. */
  slots: PQueue;
  /** The target as the revision has it, or undefined when the revision no longer has it. */
  resolveTarget: (name: string, revision: Revision) => Target | undefined;
  /** The revision a reconcile runs at: the one it asks for, its target's held one, or the branch's. */
  pickRevision: (reconcile: Reconcile) => Promise<Revision | undefined>;
  controls: Controls;
  policyGates: PolicyGates;
  hostLocks: HostLocks;
  /** The hosts of a target at a revision (listed once per revision). */
  hostsOf: (target: Target, revision: Revision) => Promise<HostSet>;
  isStopping: () => boolean;
  /** A run record the reconcile opened (the reconciler keeps a map for cancel). */
  onRunCreated: (reconcile: Reconcile, runId: number) => void;
  /** Writes a run's final state (the store's finish, with the events that follow it). */
  finishRun: (runId: number, result: RunResult) => void;
};

/** What one reconcile knows as it goes through its steps. */
export type ReconcileContext = {
  readonly reconcile: Reconcile;
  readonly deps: PipelineDeps;
  /** The run record a step opened and no one has settled yet. */
  open?: { id: number; kind: RunKind; limit?: string };
  /** Set for a preview's check: the revision to check, which is never the target's; the pipeline ends after check. */
  readonly preview?: Revision;
  revision?: Revision;
  target?: Target;
  requirements?: InstalledRequirements;
  check?: RunSummary;
  decision?: Decision;
  apply?: RunSummary;
  verify?: RunSummary;
  /** What the reconcile holds until its end: its revision's checkout, its hosts. */
  releases: Array<() => void>;
};

/** A step that ends its run without Ansible: the run is recorded with this status and message. */
export class RunAbandoned extends Error {
  constructor(
    readonly status: 'interrupted' | 'failed',
    message: string,
  ) {
    super(message);
  }
}

const steps: Record<StepName, Step> = {
  /** Picks the revision and the target at it, and installs the revision's requirements (once per revision). */
  async prepare(ctx) {
    const { deps, reconcile, preview } = ctx;
    const revision = preview ?? (await deps.pickRevision(reconcile));
    const target = revision && deps.resolveTarget(reconcile.key, revision);
    if (preview && !target) throw new RunAbandoned('failed', `${reconcile.key} is not a target at ${preview.sha.slice(0, 12)}`);
    if (!revision || !target) throw new RunAbandoned('interrupted', `target ${reconcile.key} no longer exists at the current revision`);
    reconcile.began(revision.sha);
    ctx.releases.push(deps.revisions.hold(revision.sha));
    ctx.revision = revision;
    ctx.target = target;
    ctx.requirements = await deps.revisions.prepare(revision, reconcile.signal, preview ? 'preview' : 'fleet');
    // A preview's check holds the hosts under a key of its own: it never runs beside the target's own runs.
    const key = preview ? `preview:${target.name}` : target.name;
    ctx.releases.push(await deps.hostLocks.acquire(target.name, () => deps.hostsOf(target, revision), reconcile.signal, key));
    return { next: preview ? 'check' : 'plan' };
  },

  /**
   * Whether the check goes first (precheck.ts). Skipping it, the policy gates still run first: a failed gate
   * sends the reconcile through today's check → decide, which holds the apply and reports the drift.
   */
  async plan(ctx) {
    const { deps, reconcile, revision, target, open } = ctx;
    if (!revision || !target || open?.kind !== 'check') return { next: 'check' };
    const input = { ...gateInput(ctx, new Date()), precheck: target.policy.precheck, ...(target.problem ? { problem: target.problem } : {}) };
    if (precheckNeeded(input).needed) return { next: 'check' };
    // From here the request is what was decided on: a `check` joining now must not ride on this apply.
    reconcile.closeJoins();
    if (target.policy.gates.length > 0) {
      input.state.gateFailure = gateFailure(await deps.policyGates.check(revision, target.policy.gates, reconcile.signal));
    }
    const plan = precheckNeeded(input);
    if (plan.needed) return { next: 'check' };
    // The open run would otherwise stay queued: ending here settles nothing.
    if (deps.isStopping()) throw new RunAbandoned('interrupted', 'fleetcd stopped before this run started');
    const decision: Decision = { kind: 'apply', reason: plan.reason };
    ctx.decision = decision;
    deps.controls.decided(target, decision, revision.sha);
    deps.store.becomeApply(open.id);
    ctx.open = { ...open, kind: 'apply' };
    deps.log.info({ target: target.name, runId: open.id, reason: plan.reason }, 'applying');
    return { next: 'apply' };
  },

  async check(ctx) {
    ctx.check = await execute(ctx, { check: true });
    const { check } = ctx;
    ctx.deps.log.info({ target: check.target, runId: check.id, status: check.status, changed: check.summary.changed, preview: ctx.preview?.sha }, 'check finished');
    if (ctx.preview) return { end: 'a preview ends with its check' };
    return { next: 'decide' };
  },

  /** The pure decision (decide.ts) on what the check found; an apply opens its run record here. */
  async decide(ctx) {
    const { deps, reconcile, check, revision, target } = ctx;
    if (!check || !revision || !target) return { end: 'nothing was checked' };
    const base = gateInput(ctx, new Date());
    const input = {
      ...base,
      check: {
        status: check.status,
        exitCode: check.exitCode,
        driftedHosts: deps.store.driftedHosts(check.id),
        changedTasks: deps.store.changedTaskNames(check.id),
      },
      revision: { ...base.revision, knownNonIdempotent: new Set(deps.store.nonIdempotentTasks(target.name, revision.sha)) },
    };
    // Policy gates run only when there is something to apply (once per revision: the result is kept).
    if (applyPolicy(input).kind === 'apply' && target.policy.gates.length > 0) {
      input.state.gateFailure = gateFailure(await deps.policyGates.check(revision, target.policy.gates, reconcile.signal));
    }
    const decision = decide(input);
    ctx.decision = decision;
    deps.controls.decided(target, decision, revision.sha);
    if (decision.kind === 'stop') return { end: decision.reason };
    if (decision.kind === 'wait') return { end: decision.waiting.detail };
    if (deps.isStopping()) return { end: 'fleetcd is stopping' };
    deps.log.info({ target: target.name, runId: check.id, reason: decision.reason, limit: decision.limit }, 'applying');
    openRun(ctx, 'apply', decision.limit, check.id);
    return { next: 'apply' };
  },

  async apply(ctx) {
    const limit = ctx.open?.limit;
    ctx.apply = await execute(ctx, { check: false, limit });
    const { apply, deps } = ctx;
    deps.log.info({ target: apply.target, runId: apply.id, status: apply.status, changed: apply.summary.changed }, 'apply finished');
    deps.controls.applied(ctx.target!, apply, new Date());
    if (apply.status !== 'succeeded') return { end: `the apply ${apply.status}` };
    if (deps.isStopping()) return { end: 'fleetcd is stopping' };
    openRun(ctx, 'check', limit, apply.id);
    return { next: 'verify' };
  },

  /** A check right after the apply: what it still finds changing is not idempotent. */
  async verify(ctx) {
    const limit = ctx.open?.limit;
    ctx.verify = await execute(ctx, { check: true, limit });
    const { verify, deps } = ctx;
    if (verify.summary.changed > 0) {
      const tasks = deps.store.changedTaskNames(verify.id);
      deps.log.warn({ target: verify.target, runId: verify.id, tasks }, 'playbook is not idempotent');
    }
    return { end: 'verified' };
  },
};

/** Runs a reconcile's steps from `prepare` to its end. Never throws: every run it opened ends recorded. */
export async function runPipeline(ctx: ReconcileContext): Promise<void> {
  const { reconcile, deps } = ctx;
  let step: StepName = 'prepare';
  try {
    for (;;) {
      if (reconcile.signal.aborted) throw new Aborted(reconcile.signal.reason);
      const next: Next = await steps[step](ctx);
      if ('end' in next) {
        deps.log.debug({ target: reconcile.key, runId: reconcile.id, after: step, why: next.end }, 'reconcile ended');
        return;
      }
      step = next.next;
    }
  } catch (error) {
    if (ctx.open) settle(ctx, ctx.open.id, resultOfError(error, reconcile.signal));
    if (!(error instanceof Aborted) && !(error instanceof RunAbandoned) && !(error instanceof FleetError)) {
      deps.log.error({ target: reconcile.key, step, err: messageOf(error), stack: (error as Error).stack }, 'reconcile failed unexpectedly');
    }
  } finally {
    for (const release of ctx.releases.reverse()) release();
  }
}

/** What `plan` and `decide` both read: the target's policy, the revision's history, the controls, the request. */
function gateInput(ctx: ReconcileContext, now: Date): GateInput {
  const { deps, reconcile, revision, target } = ctx;
  if (!revision || !target) throw new Error('gateInput needs a prepared reconcile');
  return {
    target: {
      name: target.name,
      mode: target.mode,
      applyWindows: target.policy.applyWindows,
      soakMs: target.policy.soakMs,
      retryLimit: target.policy.retry.limit,
    },
    revision: { sha: revision.sha, appliedBefore: deps.store.hasApplied(target.name, revision.sha) },
    state: deps.controls.stateFor(target, revision),
    request: { ...reconcile.request, queuedAt: reconcile.queuedAt },
    now,
  };
}

/** Opens the run record that the next step executes, linked from the run before it. */
function openRun(ctx: ReconcileContext, kind: RunKind, limit: string | undefined, after: number): void {
  const { deps, reconcile, revision } = ctx;
  const id = deps.store.create({
    target: reconcile.key,
    kind,
    trigger: reconcile.request.trigger,
    revision: revision!.sha,
    limit,
    requestedBy: reconcile.request.requestedBy,
  });
  deps.store.setFollowedBy(after, id);
  deps.onRunCreated(reconcile, id);
  ctx.open = { id, kind, limit };
}

/** Waits for a slot under the global cap, runs the open run's ansible-playbook, and settles the run. */
async function execute(ctx: ReconcileContext, options: { check: boolean; limit?: string }): Promise<RunSummary> {
  const { deps, reconcile, open } = ctx;
  if (!open) throw new Error('no open run to execute');
  const signal = reconcile.signal;
  // The run is settled inside its slot, so the next run never starts before this one's end is written.
  const run = async (): Promise<void> => {
    reconcile.executing = reconcile.executed = true;
    try {
      const result = await executeRun(
        { config: deps.config(), store: deps.store, runner: deps.runner(), log: deps.log },
        { id: open.id, target: ctx.target!, revision: ctx.revision!, check: options.check, limit: options.limit, signal, requirements: ctx.requirements },
      );
      settle(ctx, open.id, result);
    } finally {
      reconcile.executing = false;
    }
  };
  // A preview's check waits behind the targets' own runs.
  await deps.slots.add(run, { signal, priority: ctx.preview ? -1 : 0 }).catch((error: unknown) => {
    throw signal.aborted ? new Aborted(signal.reason) : error;
  });
  return deps.store.get(open.id)!;
}

/** The one place a run's final state is written. */
function settle(ctx: ReconcileContext, runId: number, result: RunResult): void {
  ctx.deps.finishRun(runId, result);
  if (ctx.open?.id === runId) ctx.open = undefined;
}

/** How a run that a step could not take to its end is recorded. */
function resultOfError(error: unknown, signal: AbortSignal): RunResult {
  const none = new Map();
  if (error instanceof RunAbandoned) return { status: error.status, exitCode: null, error: error.message, hosts: none };
  if (signal.aborted) {
    const shutdown = signal.reason === 'shutdown';
    return {
      status: shutdown ? 'interrupted' : 'cancelled',
      exitCode: null,
      error: shutdown ? 'fleetcd stopped before this run finished' : 'cancelled on request before it started',
      hosts: none,
    };
  }
  return { status: 'failed', exitCode: null, error: messageOf(error), hosts: none };
}
