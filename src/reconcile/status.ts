import type { ProcessOutcome } from '../runner/index.js';
import type { HostRecap, RunKind, RunStatus, RunSummary } from '../store/types.js';

/** Pure readings of what Ansible did: how a run is recorded and what a target's status is. */

export const targetStatuses = ['in-sync', 'drifted', 'failed', 'unreachable', 'unknown'] as const;
export type TargetStatus = (typeof targetStatuses)[number];
export type HostStatus = Exclude<TargetStatus, 'unknown'>;

/** What ended one ansible-playbook process, with whether it reached its recap and how many hosts that had. */
export type RunEnd = { outcome: ProcessOutcome; abortReason: unknown; recapHosts: number | undefined };

/**
 * How a finished ansible-playbook process is recorded. Exit 4 means "a host was unreachable" only when
 * the play ran to its recap; Ansible also exits 4 on a playbook it cannot parse. A recap without a single
 * host means no play matched any host: nothing was checked, so it is a failure, never a green.
 */
export function runStatusOf(end: RunEnd): Exclude<RunStatus, 'queued' | 'running'> {
  const { outcome, abortReason, recapHosts } = end;
  if (outcome.startError || outcome.logError) return 'failed';
  if (outcome.timedOut) return 'timed-out';
  if (outcome.cancelled) return abortReason === 'shutdown' ? 'interrupted' : 'cancelled';
  if (recapHosts === 0) return 'failed';
  if (outcome.exitCode === 0 || (outcome.exitCode === 4 && recapHosts !== undefined)) return 'succeeded';
  return 'failed';
}

/** The error to record for a run: why it could not run, or Ansible's own complaint when it ran no tasks. */
export function runErrorOf(end: RunEnd, status: RunStatus, timeoutMs: number, inventory: string): string | null {
  const { outcome } = end;
  if (outcome.startError) return outcome.startError;
  if (outcome.logError) return outcome.logError;
  if (status === 'timed-out') return `killed after the run timeout of ${Math.round(timeoutMs / 1000)}s`;
  if (status === 'cancelled') return 'cancelled on request';
  if (status === 'interrupted') return 'fleetcd stopped during this run';
  if (end.recapHosts === 0) return noHostsError(inventory, outcome.warnings);
  if (status === 'succeeded' || outcome.exitCode === 2) return null;
  const why = outcome.stderrTail || `exit code ${outcome.exitCode ?? 'none'}, signal ${outcome.signal ?? 'none'}`;
  return `ansible-playbook failed: ${why}`;
}

/**
 * Why a run matched no host, in the inventory's words: an inventory Ansible could not parse (an `.ini` inside
 * an inventory folder is ignored by Ansible's `inventory_ignore_extensions`), one without hosts, or plays
 * whose host patterns match none of its hosts.
 */
export function noHostsError(inventory: string, warnings: readonly string[]): string {
  const unparsed = warnings.find((w) => /Unable to parse .* as an inventory source/.test(w));
  if (unparsed) return `inventory ${inventory} has no hosts (Ansible: ${unparsed})`;
  const empty = warnings.some((w) => /provided hosts list is empty|No inventory was parsed/.test(w));
  if (empty) return `inventory ${inventory} has no hosts`;
  const unmatched = warnings.find((w) => /Could not match supplied host pattern/.test(w));
  return `no play matched any host of inventory ${inventory}${unmatched ? ` (Ansible: ${unmatched})` : ''}`;
}

/** A target's status from its newest conclusive run (CONTRACT-NOTES 3). */
export function targetStatusOf(latest: RunSummary | null | undefined): TargetStatus {
  if (!latest) return 'unknown';
  if (latest.status === 'failed' || latest.status === 'timed-out') return 'failed';
  if (latest.summary.unreachable > 0) return 'unreachable';
  if (latest.kind === 'check' && latest.summary.changed > 0) return 'drifted';
  return 'in-sync';
}

/**
 * A target's status as its notifications tell it, which flaps less than `targetStatusOf`: a succeeded apply is
 * no news of sync (its verify check is, so the check before the apply still counts), and a check whose only
 * changes are tasks known to be non-idempotent at its revision counts as in sync (`onlyNonIdempotent` says so
 * of a run; it reads the record, so it is a port).
 */
export function settledStatusOf(
  record: { lastConclusive: RunSummary | null; lastCheck: RunSummary | null },
  onlyNonIdempotent: (run: RunSummary) => boolean,
): TargetStatus {
  const last = record.lastConclusive;
  const run = last?.kind === 'apply' && last.status === 'succeeded' ? record.lastCheck : last;
  const status = targetStatusOf(run);
  return status === 'drifted' && run && onlyNonIdempotent(run) ? 'in-sync' : status;
}

export function hostStatusOf(kind: RunKind, recap: HostRecap): HostStatus {
  if (recap.failed > 0) return 'failed';
  if (recap.unreachable > 0) return 'unreachable';
  if (kind === 'check' && recap.changed > 0) return 'drifted';
  return 'in-sync';
}
