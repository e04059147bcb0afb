import type { Precheck } from '../config/index.js';
import { defaultGates, type Gate, type GateInput } from './decide.js';

/**
 * Whether a reconcile checks before it may apply, decided before any Ansible runs. Pure, like decide.ts:
 * no I/O and no clock (`now` is an input).
 *
 * The check before an apply serves two ends: its plan (which hosts drifted, so the apply can be limited to
 * them) and a report of drift while an apply is held. A revision this target never applied goes to every
 * host whatever the check finds (contract note 6), so when nothing holds its apply the check only delays the
 * change; the apply runs with `--diff` and records what it changed instead, and the verify check follows.
 */
export type PrecheckInput = GateInput & {
  precheck: Precheck;
  /** Why the target cannot run at this revision (targets.ts): a check reports it without counting a failed apply. */
  problem?: string;
};

export type PrecheckDecision = { needed: true; reason: string } | { needed: false; reason: string };

/** One reason the check must run first, or undefined: approvals and rollouts (issue 18) become more of these. */
export type PrecheckRule = (input: PrecheckInput) => string | undefined;

/** The rules before the gates: what the request, the config and the revision say. */
export const precheckRules: readonly PrecheckRule[] = [
  ({ request }) => (request.mode === 'check' ? 'a check was asked for' : undefined),
  ({ precheck }) => (precheck === 'always' ? 'precheck is always' : undefined),
  ({ problem }) => (problem ? `the target cannot run: ${problem}` : undefined),
  // Only the target's own mode: an explicit apply of a detect target keeps its check (the run people look at).
  ({ target }) => (target.mode === 'apply' ? undefined : `mode is ${target.mode}`),
  ({ revision }) => (revision.appliedBefore ? 'the revision was applied before: the check finds the hosts that drifted' : undefined),
  ({ state }) => (state.suspended ? 'the target is suspended' : undefined),
];

/**
 * `needed: false` only when the target applies, the revision is new to it and no gate holds the apply now: a
 * held apply keeps today's check-then-wait, so drift is still reported while it waits.
 */
export function precheckNeeded(input: PrecheckInput, gates: readonly Gate[] = defaultGates): PrecheckDecision {
  for (const rule of precheckRules) {
    const reason = rule(input);
    if (reason) return { needed: true, reason };
  }
  for (const gate of gates) {
    const waiting = gate(input);
    if (waiting) return { needed: true, reason: `the apply would wait (${waiting.reason}: ${waiting.detail})` };
  }
  return { needed: false, reason: 'this revision was never applied to this target: applying to every host without a precheck' };
}
