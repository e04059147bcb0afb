import type { Trigger } from '../store/types.js';
import type { KeyedJob } from './keyed-queue.js';

export type ReconcileRequest = {
  trigger: Trigger;
  /** `check` never applies; `apply` applies whatever the target's mode; unset follows the mode. */
  mode?: 'check' | 'apply';
  /** Apply now, through apply windows, dependencies and retry backoff (never through a failed policy gate). */
  force?: boolean;
  /** Run at this revision instead of the branch's (a rollback, or a held target's revision). */
  revision?: string;
  /** Who asked: a token's name, `cli`, or the author of the commit that caused it. */
  requestedBy?: string;
};

/** How many request times a reconcile keeps (a burst of joiners keeps the first and the newest). */
const maxQueuedAt = 16;

/**
 * One reconcile of one target: from the check run it was asked for (its id is the reconcile's id) to the end
 * of its pipeline. Requests join it until it picks its revision; cancel and shutdown abort its signal, which
 * every step sees.
 */
export class Reconcile implements KeyedJob {
  readonly done: Promise<void>;
  /** Every run this reconcile opened: the check, then its apply and verify. */
  readonly runIds: Set<number>;
  /** True while one of its ansible-playbook processes runs. */
  executing = false;
  /** True once its first ansible-playbook process started: requests no longer join it. */
  executed = false;
  /**
   * When it was asked for: its own request, then each request that joined it. The apply-window gate passes when
   * any of them fell inside a window, so a joiner's time counts and not only the earliest: the request a window's
   * opening makes often joins a reconcile queued before the window, and that one must still apply. Bounded: the
   * first and the newest few.
   */
  readonly queuedAt: Date[] = [new Date()];
  /** Set when it decided to apply without a check first: a `check` request joining then would be applied. */
  private committed = false;
  private readonly controller = new AbortController();
  private resolveDone!: () => void;
  private sha: string | undefined;

  constructor(
    readonly key: string,
    readonly id: number,
    public request: ReconcileRequest,
    /** The revision it was queued to run at (what requests join on until it picks one). */
    readonly planned?: string,
  ) {
    this.runIds = new Set([id]);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The revision it runs at, once picked; until then a new request may join it. */
  get revision(): string | undefined {
    return this.sha;
  }

  began(sha: string): void {
    this.sha = sha;
  }

  /** Whether a new request may still join it (and change what it will do). */
  get acceptsJoins(): boolean {
    return !this.executed && !this.committed;
  }

  /** No more joins: what it does was decided on its request as it stands now. */
  closeJoins(): void {
    this.committed = true;
  }

  /** Joins another request: an explicit apply or check wins over following the target's mode. */
  join(request: ReconcileRequest, at = new Date()): void {
    this.queuedAt.push(at);
    if (this.queuedAt.length > maxQueuedAt) this.queuedAt.splice(1, 1);
    this.request = { ...this.request, mode: request.mode ?? this.request.mode, force: request.force || this.request.force };
  }

  abort(reason: 'cancel' | 'shutdown'): void {
    this.controller.abort(reason);
  }

  finished(): void {
    this.resolveDone();
  }
}
