import type { NotificationEvent } from '../config/index.js';
import type { TargetStatus } from '../reconcile/status.js';
import type { RunSummary } from '../store/types.js';

/**
 * Which events a fact fires. Pure: notifications tell a change of state, never "still drifted" on every
 * interval, so each function looks at the state before and after.
 */

/** Statuses a target recovers from when it comes back in sync. */
const troubled: readonly TargetStatus[] = ['drifted', 'failed'];

/**
 * The events of one finished run, from its target's settled status (`settledStatusOf`) before and after it: a
 * succeeded apply leaves that status as the check before it, so `recovered` comes from the verify check.
 */
export function runEvents(run: Pick<RunSummary, 'kind' | 'summary'>, before: TargetStatus, after: TargetStatus): NotificationEvent[] {
  const events: NotificationEvent[] = [];
  if (after === 'drifted' && before !== 'drifted') events.push('drift');
  if (after === 'failed' && before !== 'failed') events.push('failed');
  if (after === 'in-sync' && troubled.includes(before)) events.push('recovered');
  // Every apply that changed a host is news, whether or not the target's status moved.
  if (run.kind === 'apply' && run.summary.changed > 0) events.push('applied');
  return events;
}

/**
 * The events of one fetch attempt, from whether the one before failed (undefined before the first): the
 * source "starts failing" once, however many polls fail after that.
 */
export function fetchEvents(wasFailing: boolean | undefined, ok: boolean): NotificationEvent[] {
  return !ok && wasFailing !== true ? ['source-error'] : [];
}
