import type { Mode } from '../config/index.js';
import type { RunStatus, Trigger } from '../store/types.js';
import { outsideWindows, windowState, type WindowSpec } from './windows.js';

/**
 * The decide step of a reconcile, pure: given what the check found, the target's policy, the state of the
 * controls on it and the request, whether to apply (and on which hosts), stop, or wait (and for what).
 * No I/O and no clock: `now` is an input, so every rule is a table test (window arithmetic is a function of
 * its inputs).
 */

export const waitReasons = ['window', 'dependency', 'retry', 'gate', 'hold'] as const;
export type WaitReason = (typeof waitReasons)[number];

/** What holds a target's next step: a sentence naming it, and when it ends if that is known. */
export type Waiting = { reason: WaitReason; detail: string; until?: string };

export type CheckOutcome = {
  status: RunStatus;
  exitCode: number | null;
  /** Hosts with changes; excludes unreachable hosts, which are never drift. */
  driftedHosts: readonly string[];
  /** Names of tasks that would change. */
  changedTasks: readonly string[];
};

/** Where a target this one depends on stands at the revision being decided. */
export type UpstreamState = {
  name: string;
  /** False when the revision has no such target. */
  exists: boolean;
  /** When it reached the revision (applied it and found it in sync; a detect target: checked it in sync). */
  reachedAt?: string;
  /** Its newest run at the revision failed. */
  failed?: { runId: number; kind: 'check' | 'apply' };
};

/** Apply retries at a revision: how many applies failed, and when the next may run (null: no more). */
export type RetryState = { attempt: number; nextAt: string | null };

export type DecideInput = {
  target: {
    name: string;
    mode: Mode;
    applyWindows: readonly WindowSpec[];
    soakMs: number;
    retryLimit: number;
  };
  check: CheckOutcome;
  revision: {
    sha: string;
    /** This target has applied this revision before. */
    appliedBefore: boolean;
    /** Tasks a verify check after an earlier apply of this revision still reported: not idempotent. */
    knownNonIdempotent: ReadonlySet<string>;
  };
  state: {
    suspended: boolean;
    /** Apply retries at this revision (none after a new revision). */
    retry?: RetryState;
    upstream: readonly UpstreamState[];
    /** A policy gate that failed for this revision, in one sentence. */
    gateFailure?: string;
  };
  request: {
    trigger: Trigger;
    mode?: 'check' | 'apply';
    force?: boolean;
    /** When the reconcile was asked for: its own request, then each that joined it (Reconcile.queuedAt). */
    queuedAt: readonly Date[];
  };
  now: Date;
};

export type Decision =
  | { kind: 'apply'; reason: string; limit?: string }
  | { kind: 'stop'; reason: string }
  | { kind: 'wait'; waiting: Waiting };

/**
 * What the gates read: everything but the check's findings, so they can be asked before any check runs
 * (`precheckNeeded`) as well as after it (`decide`).
 */
export type GateInput = Omit<DecideInput, 'check' | 'revision'> & { revision: Pick<DecideInput['revision'], 'sha' | 'appliedBefore'> };

/** A control that can hold an apply the policy wants: one pure function each, tried in order. */
export type Gate<I extends GateInput = GateInput> = (input: I) => Waiting | undefined;

/**
 * The policy first (is there anything to apply?), then suspension (never an automatic apply), then the
 * gates (may it be applied now?): a target with nothing to apply never shows as waiting.
 */
export function decide<I extends DecideInput>(input: I, gates: ReadonlyArray<Gate<I>> = defaultGates): Decision {
  const policy = applyPolicy(input);
  if (policy.kind !== 'apply') return policy;
  if (input.state.suspended) return stop('the target is suspended');
  for (const gate of gates) {
    const waiting = gate(input);
    if (waiting) return { kind: 'wait', waiting };
  }
  return policy;
}

/** Whether a check is followed by an apply, and on which hosts (README "Policies"). */
export function applyPolicy(input: DecideInput): Decision {
  const { check, revision, request } = input;
  if (request.mode === 'check') return stop('a check was asked for');
  const mode = request.mode === 'apply' || request.trigger === 'rollback' ? 'apply' : input.target.mode;
  if (mode !== 'apply') return stop('mode is detect');
  if (check.status === 'failed') {
    // Exit 2: a task failed on a host, often because check mode cannot see an earlier task's effect on a
    // fresh host; the apply is the way forward. Any other failure is Ansible refusing the playbook itself.
    if (check.exitCode === 2) return { kind: 'apply', reason: 'check failed on a host; applying as check mode cannot see ahead' };
    return stop('the check failed before running tasks');
  }
  if (check.status !== 'succeeded') return stop(`the check ${check.status}`);
  if (request.trigger === 'rollback') return { kind: 'apply', reason: 'rollback: the held revision goes to every host' };
  if (!revision.appliedBefore) return { kind: 'apply', reason: 'this revision was never applied to this target' };
  if (check.driftedHosts.length === 0) return stop('no drift');
  if (check.changedTasks.every((task) => revision.knownNonIdempotent.has(task))) {
    return stop('the only changes are tasks known to be non-idempotent at this revision');
  }
  const plain = check.driftedHosts.every((host) => /^[A-Za-z0-9_.-]+$/.test(host));
  return plain
    ? { kind: 'apply', reason: 'drift found', limit: check.driftedHosts.join(',') }
    : { kind: 'apply', reason: 'drift found (host names are patterns: applying to all hosts)' };
}

/** A policy gate (lint, syntax check) that failed for this revision holds every apply of it, rollbacks too. */
export const failedPolicyGate: Gate = ({ state }) =>
  state.gateFailure ? { reason: 'gate', detail: state.gateFailure } : undefined;

/**
 * Windows gate when a reconcile starts, as Argo CD's sync windows gate a sync's start: one asked for inside a
 * window applies when its check ends, even if the window closed meanwhile (else a check longer than the window
 * would never apply). One asked for outside waits for the next window, unless a window is open by now. A
 * rollback (the incident tool) and `force` go through.
 */
export const outsideWindow: Gate = ({ target, request, now }) => {
  const windows = target.applyWindows;
  if (windows.length === 0 || request.force || request.trigger === 'rollback') return undefined;
  if (request.queuedAt.some((at) => windowState(windows, at).open)) return undefined;
  const outside = outsideWindows(windows, now);
  if (!outside) return undefined;
  return { reason: 'window', detail: outside.detail, ...(outside.opensAt ? { until: outside.opensAt.toISOString() } : {}) };
};

/**
 * At a revision, a target applies only after every target it depends on reached that revision and stayed there
 * for the soak time; a failure upstream holds it. A rollback and `force` go through.
 */
export const upstreamNotReached: Gate = ({ target, state, revision, request, now }) => {
  if (request.force || request.trigger === 'rollback') return undefined;
  const short = revision.sha.slice(0, 7);
  for (const upstream of state.upstream) {
    if (!upstream.exists) return { reason: 'dependency', detail: `depends on ${upstream.name}, which is not a target at ${short}` };
    if (upstream.failed) {
      const { runId, kind } = upstream.failed;
      return { reason: 'dependency', detail: `${upstream.name} failed at ${short} (${kind} run #${runId})` };
    }
    if (!upstream.reachedAt) return { reason: 'dependency', detail: `${upstream.name} has not reached ${short}` };
    const soaked = Date.parse(upstream.reachedAt) + target.soakMs;
    if (soaked > now.getTime()) {
      const until = new Date(soaked).toISOString();
      return { reason: 'dependency', detail: `${upstream.name} reached ${short} at ${upstream.reachedAt}; soaking until ${until}`, until };
    }
  }
  return undefined;
};

/**
 * After a failed apply, the next automatic one waits for its backoff (a `retry` wake-up takes it); after
 * `limit` failures at a revision, automatic applies stop until a new revision or an explicit request.
 */
export const retryBackoff: Gate = ({ target, state, request, now }) => {
  const retry = state.retry;
  if (!retry || request.force || request.mode === 'apply' || request.trigger === 'rollback') return undefined;
  if (retry.nextAt === null) {
    return {
      reason: 'retry',
      detail: `the apply failed ${retry.attempt} time${retry.attempt === 1 ? '' : 's'} at this revision (retry.limit ${target.retryLimit}); a new commit or an explicit apply tries again`,
    };
  }
  if (Date.parse(retry.nextAt) <= now.getTime()) return undefined;
  return { reason: 'retry', detail: `the apply failed (attempt ${retry.attempt} of ${target.retryLimit}); retrying at ${retry.nextAt}`, until: retry.nextAt };
};

/** The gates in the order their waiting is reported. */
export const defaultGates: readonly Gate[] = [failedPolicyGate, outsideWindow, upstreamNotReached, retryBackoff];

/** When the next retry of an apply that failed for the `attempt`-th time may run: exponential, capped. */
export function retryDelayMs(attempt: number, retry: { initialDelayMs: number; maxDelayMs: number }): number {
  return Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempt - 1));
}

function stop(reason: string): Decision {
  return { kind: 'stop', reason };
}
