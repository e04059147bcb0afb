import type { Logger } from '../log.js';
import type { RunStore } from '../store/runs.js';
import type { TargetStore } from '../store/targets.js';
import type { RunSummary, Trigger } from '../store/types.js';
import { retryDelayMs, type DecideInput, type Decision, type UpstreamState, type Waiting, type WaitReason } from './decide.js';
import type { Scheduler } from './schedule.js';
import type { Target } from './targets.js';

/** The trigger of the reconcile that a wait ends with. */
const wakeTrigger: Record<WaitReason, Trigger> = {
  window: 'window',
  retry: 'retry',
  dependency: 'commit',
  gate: 'commit',
  hold: 'commit',
};

/**
 * The state around the decide step that outlives one reconcile: what each target waits for, apply retries
 * per revision, where the targets a target depends on stand, and the wake-ups that end a wait. The decision
 * itself stays pure (decide.ts); this is where its inputs are read and its consequences kept.
 */
export class Controls {
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly deps: {
      runs: RunStore;
      targets: TargetStore;
      scheduler: Scheduler;
      /** The targets at a revision root (to find upstream targets and their modes). */
      targetsAt: (root: string) => Target[];
      /** Asks for a reconcile of a target (automatic: skipped while it is suspended). */
      request: (target: string, trigger: Trigger) => void;
      log: Logger;
    },
  ) {}

  /** What the target waits for now, if anything. */
  waitingOf(target: string): Waiting | undefined {
    return this.waiting.get(target);
  }

  /** The controls' part of the decide input for a target at a revision (windows are the decide step's own). */
  stateFor(target: Target, revision: { sha: string; root: string }): DecideInput['state'] {
    const record = this.deps.targets.record(target.name);
    const retry = record.retry?.revision === revision.sha ? { attempt: record.retry.attempt, nextAt: record.retry.nextAt } : undefined;
    return {
      suspended: record.suspension !== null,
      retry,
      upstream: this.upstream(target, revision),
    };
  }

  /** Keeps what the decision says the target waits for, and arms the wake-up that ends the wait. */
  decided(target: Target, decision: Decision, revision: string): void {
    if (decision.kind === 'wait') {
      this.waiting.set(target.name, decision.waiting);
      const until = decision.waiting.until;
      if (until) this.deps.scheduler.wake(target.name, new Date(until), wakeTrigger[decision.waiting.reason]);
      this.deps.log.info({ target: target.name, waiting: decision.waiting }, 'apply waits');
      return;
    }
    if (decision.kind === 'apply' || decision.reason === 'no drift' || decision.reason === 'mode is detect') {
      this.waiting.delete(target.name);
    }
    if (decision.kind === 'stop' && decision.reason === 'no drift') this.clearRetry(target.name, revision);
  }

  /** After an apply: a success ends the retries at this revision; a failure counts one and arms the next. */
  applied(target: Target, apply: RunSummary, now: Date): void {
    if (apply.status === 'succeeded') {
      this.clearRetry(target.name, apply.revision);
      return;
    }
    if (apply.status !== 'failed' && apply.status !== 'timed-out') return;
    const previous = this.deps.targets.record(target.name).retry;
    const attempt = (previous?.revision === apply.revision ? previous.attempt : 0) + 1;
    const { retry } = target.policy;
    const nextAt = attempt <= retry.limit ? new Date(now.getTime() + retryDelayMs(attempt, retry)) : null;
    this.deps.targets.setRetry(target.name, { revision: apply.revision, attempt, nextAt: nextAt?.toISOString() ?? null });
    if (nextAt) {
      this.deps.scheduler.wake(target.name, nextAt, 'retry');
      this.waiting.set(target.name, {
        reason: 'retry',
        detail: `the apply failed (attempt ${attempt} of ${retry.limit}); retrying at ${nextAt.toISOString()}`,
        until: nextAt.toISOString(),
      });
    } else {
      this.waiting.set(target.name, {
        reason: 'retry',
        detail: `the apply failed ${attempt} times at this revision (retry.limit ${retry.limit}); a new commit or an explicit apply tries again`,
      });
    }
    this.deps.log.warn({ target: target.name, runId: apply.id, attempt, nextAt }, 'apply failed; retry planned');
  }

  /** After any reconcile of `target`: targets waiting on it look again (they may have been released). */
  ended(target: string, all: readonly Target[]): void {
    for (const dependant of all) {
      if (!dependant.policy.dependsOn.includes(target)) continue;
      if (this.waiting.get(dependant.name)?.reason === 'dependency') this.deps.request(dependant.name, 'commit');
    }
  }

  /** A suspension, hold or resume starts over: old waits no longer hold. */
  forget(target: string): void {
    this.waiting.delete(target);
  }

  private clearRetry(target: string, revision: string): void {
    if (this.deps.targets.record(target).retry?.revision === revision) this.deps.targets.setRetry(target, null);
  }

  private upstream(target: Target, revision: { sha: string; root: string }): UpstreamState[] {
    if (target.policy.dependsOn.length === 0) return [];
    const known = new Map(this.deps.targetsAt(revision.root).map((t) => [t.name, t]));
    const records = this.deps.targets.records(target.policy.dependsOn);
    return target.policy.dependsOn.map((name) => {
      const upstream = known.get(name);
      if (!upstream) return { name, exists: false };
      const last = records.get(name)?.lastConclusive;
      if (last?.revision === revision.sha && (last.status === 'failed' || last.status === 'timed-out')) {
        return { name, exists: true, failed: { runId: last.id, kind: last.kind } };
      }
      // "Stayed there": its newest conclusive run is still at this revision.
      if (last?.revision !== revision.sha) return { name, exists: true };
      const reachedAt = this.deps.runs.reachedAt(name, revision.sha, upstream.mode);
      return reachedAt ? { name, exists: true, reachedAt } : { name, exists: true };
    });
  }
}
