import type { Mode } from '../config/index.js';
import type { HostRecap, RunKind, RunStatus, RunSummary } from '../store/types.js';
import type { ProcessOutcome } from '../runner/index.js';

/** Pure decisions of the reconcile loop, kept apart from processes and storage so they can be tested alone. */

export const targetStatuses = ['in-sync', 'drifted', 'failed', 'unreachable', 'unknown'] as const;
export type TargetStatus = (typeof targetStatuses)[number];
export type HostStatus = Exclude<TargetStatus, 'unknown'>;

/**
 * How a finished ansible-playbook process is recorded. Exit 4 means "a host was unreachable" only when
 * the play ran to its recap (`completed`); Ansible also exits 4 on a playbook it cannot parse.
 */
export function runStatusOf(outcome: ProcessOutcome, abortReason: unknown, completed: boolean): RunStatus {
  if (outcome.timedOut) return 'timed-out';
  if (outcome.cancelled) return abortReason === 'shutdown' ? 'interrupted' : 'cancelled';
  if (outcome.exitCode === 0 || (outcome.exitCode === 4 && completed)) return 'succeeded';
  return 'failed';
}

/** The error to record for a run: Ansible's own complaint when it did not get as far as running tasks. */
export function runErrorOf(outcome: ProcessOutcome, status: RunStatus, timeoutMs: number): string | null {
  if (status === 'timed-out') return `killed after the run timeout of ${Math.round(timeoutMs / 1000)}s`;
  if (status === 'cancelled') return 'cancelled on request';
  if (status === 'interrupted') return 'fleetcd stopped during this run';
  if (status === 'succeeded' || outcome.exitCode === 2) return null;
  const why = outcome.stderrTail || `exit code ${outcome.exitCode ?? 'none'}, signal ${outcome.signal ?? 'none'}`;
  return `ansible-playbook failed: ${why}`;
}

/** A target's status from its newest conclusive run (CONTRACT-NOTES 3). */
export function targetStatusOf(latest: RunSummary | undefined): TargetStatus {
  if (!latest) return 'unknown';
  if (latest.status === 'failed' || latest.status === 'timed-out') return 'failed';
  if (latest.summary.unreachable > 0) return 'unreachable';
  if (latest.kind === 'check' && latest.summary.changed > 0) return 'drifted';
  return 'in-sync';
}

export function hostStatusOf(kind: RunKind, recap: HostRecap): HostStatus {
  if (recap.failed > 0) return 'failed';
  if (recap.unreachable > 0) return 'unreachable';
  if (kind === 'check' && recap.changed > 0) return 'drifted';
  return 'in-sync';
}

export type CheckFindings = {
  mode: Mode;
  status: RunStatus;
  exitCode: number | null;
  /** Hosts with changes; excludes unreachable hosts, which are never drift. */
  driftedHosts: string[];
  /** Names of tasks that would change. */
  changedTasks: string[];
  /** This target has applied this revision before. */
  revisionApplied: boolean;
  /** Tasks a verify check after an earlier apply of this revision still reported: not idempotent. */
  knownNonIdempotent: ReadonlySet<string>;
};

export type ApplyDecision =
  | { apply: false; reason: string }
  | { apply: true; reason: string; limit?: string };

/** Whether a check is followed by an apply, and on which hosts. */
export function decideApply(f: CheckFindings): ApplyDecision {
  if (f.mode !== 'apply') return { apply: false, reason: 'mode is detect' };
  if (f.status === 'failed') {
    // Exit 2: a task failed on a host, often because check mode cannot see an earlier task's effect on a
    // fresh host; the apply is the way forward. Any other failure is Ansible refusing the playbook itself.
    if (f.exitCode === 2) return { apply: true, reason: 'check failed on a host; applying as check mode cannot see ahead' };
    return { apply: false, reason: 'the check failed before running tasks' };
  }
  if (f.status !== 'succeeded') return { apply: false, reason: `the check ${f.status}` };
  if (!f.revisionApplied) return { apply: true, reason: 'this revision was never applied to this target' };
  if (f.driftedHosts.length === 0) return { apply: false, reason: 'no drift' };
  if (f.changedTasks.every((task) => f.knownNonIdempotent.has(task))) {
    return { apply: false, reason: 'the only changes are tasks known to be non-idempotent at this revision' };
  }
  const plain = f.driftedHosts.every((host) => /^[A-Za-z0-9_.-]+$/.test(host));
  return plain
    ? { apply: true, reason: 'drift found', limit: f.driftedHosts.join(',') }
    : { apply: true, reason: 'drift found (host names are patterns: applying to all hosts)' };
}
