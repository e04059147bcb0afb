import type { Mode } from '../config/index.js';
import type { RunStatus, Trigger } from '../store/types.js';

/**
 * The decide step of a reconcile, pure: given what the check found, the target's policy, the state of the
 * controls on it and the request, whether to apply (and on which hosts), stop, or wait (and for what).
 * No I/O and no clock: `now` is an input, so every rule is a table test.
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

export type DecideInput = {
  target: { name: string; mode: Mode };
  check: CheckOutcome;
  revision: {
    sha: string;
    /** This target has applied this revision before. */
    appliedBefore: boolean;
    /** Tasks a verify check after an earlier apply of this revision still reported: not idempotent. */
    knownNonIdempotent: ReadonlySet<string>;
  };
  request: { trigger: Trigger; mode?: 'check' | 'apply'; force?: boolean };
  now: Date;
};

export type Decision =
  | { kind: 'apply'; reason: string; limit?: string }
  | { kind: 'stop'; reason: string }
  | { kind: 'wait'; waiting: Waiting };

/** A control that can hold an apply the policy wants: one pure function each, tried in order. */
export type Gate<I extends DecideInput = DecideInput> = (input: I) => Waiting | undefined;

/**
 * The policy first (is there anything to apply?), then the gates (may it be applied now?): a target with
 * nothing to apply never shows as waiting.
 */
export function decide<I extends DecideInput>(input: I, gates: ReadonlyArray<Gate<I>> = []): Decision {
  const policy = applyPolicy(input);
  if (policy.kind !== 'apply') return policy;
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
  const mode = request.mode === 'apply' ? 'apply' : input.target.mode;
  if (mode !== 'apply') return stop('mode is detect');
  if (check.status === 'failed') {
    // Exit 2: a task failed on a host, often because check mode cannot see an earlier task's effect on a
    // fresh host; the apply is the way forward. Any other failure is Ansible refusing the playbook itself.
    if (check.exitCode === 2) return { kind: 'apply', reason: 'check failed on a host; applying as check mode cannot see ahead' };
    return stop('the check failed before running tasks');
  }
  if (check.status !== 'succeeded') return stop(`the check ${check.status}`);
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

function stop(reason: string): Decision {
  return { kind: 'stop', reason };
}
