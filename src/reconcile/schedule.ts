import type { Trigger } from '../store/types.js';
import type { TargetPolicy } from './targets.js';

/**
 * The time to a target's next scheduled check: its interval, spread by its jitter (a share of the interval,
 * centred: 10 % puts it between 95 % and 105 % of the interval) so targets do not all come due together.
 */
export function nextCheckDelay(policy: Pick<TargetPolicy, 'intervalMs' | 'jitter'>, random: () => number = Math.random): number {
  return Math.round(policy.intervalMs * (1 + policy.jitter * (random() - 0.5)));
}

/**
 * Timers that ask for reconciles: per target one interval timer (armed when a reconcile of it ends, so a commit's
 * check counts as this interval's) and one wake-up at a known time (a window opening, a retry, a soak ending),
 * the earliest one kept.
 */
export class Scheduler {
  private readonly checks = new Map<string, NodeJS.Timeout>();
  private readonly wakes = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private stopped = false;

  constructor(
    private readonly request: (target: string, trigger: Trigger) => void,
    private readonly random: () => number = Math.random,
  ) {}

  /** Arms the target's next scheduled check (replacing the one armed before). */
  scheduleNext(target: string, policy: Pick<TargetPolicy, 'intervalMs' | 'jitter'>): void {
    if (this.stopped) return;
    clearTimeout(this.checks.get(target));
    const timer = setTimeout(() => {
      this.checks.delete(target);
      this.request(target, 'schedule');
    }, nextCheckDelay(policy, this.random));
    timer.unref();
    this.checks.set(target, timer);
  }

  /** Asks for a reconcile of the target at `at` (at once when it is past); an earlier wake-up wins. */
  wake(target: string, at: Date, trigger: Trigger): void {
    if (this.stopped) return;
    const known = this.wakes.get(target);
    if (known && known.at <= at.getTime()) return;
    clearTimeout(known?.timer);
    const timer = setTimeout(() => {
      this.wakes.delete(target);
      this.request(target, trigger);
    }, Math.max(0, at.getTime() - Date.now()));
    timer.unref();
    this.wakes.set(target, { at: at.getTime(), timer });
  }

  /** Drops the target's timers (it no longer exists, or it was suspended). */
  forget(target: string): void {
    clearTimeout(this.checks.get(target));
    clearTimeout(this.wakes.get(target)?.timer);
    this.checks.delete(target);
    this.wakes.delete(target);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.checks.values()) clearTimeout(timer);
    for (const { timer } of this.wakes.values()) clearTimeout(timer);
    this.checks.clear();
    this.wakes.clear();
  }
}
