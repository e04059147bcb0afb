import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { FleetEvents } from '../reconcile/events.js';
import type { Fleet } from '../reconcile/fleet.js';
import type { TargetStatus } from '../reconcile/status.js';
import type { Db } from '../store/db.js';
import type { RunSummary } from '../store/types.js';
import { DeliveryStore } from './delivery-store.js';
import { pageBase, runNotice, sourceNotice, type TargetFacts } from './payload.js';
import { defaultDeliveryPolicy, ReceiverQueue, type DeliveryPolicy } from './receiver-queue.js';
import { fetchEvents, runEvents } from './transitions.js';
import type { Delivery, Notice } from './types.js';

export type NotifierDeps = {
  db: Db;
  log: Logger;
  /** The target right after a run, for the problem sentence and the drifted hosts; the run, for its changes. */
  fleet: Pick<Fleet, 'target' | 'run'>;
  /** Tests shorten the timeouts and backoff; the daemon uses the defaults. */
  policy?: Partial<DeliveryPolicy>;
};

/**
 * Turns the fleet's facts into notifications: on each finished run and fetch it works out which events fired
 * (transitions.ts), records a delivery per receiver that wants the event, and hands it to that receiver's
 * queue. The listener returns at once; sending happens in the background.
 */
export class Notifier {
  private readonly store: DeliveryStore;
  private readonly queues = new Map<string, ReceiverQueue>();
  private readonly policy: DeliveryPolicy;
  /** Whether the last fetch failed; undefined before the first one. */
  private sourceFailing: boolean | undefined;
  private stopped = false;

  constructor(
    private config: Config,
    private readonly deps: NotifierDeps,
  ) {
    this.policy = { ...defaultDeliveryPolicy, ...deps.policy };
    this.store = new DeliveryStore(deps.db);
    const left = this.store.giveUpPending('abandoned: fleetcd stopped before delivering it');
    if (left > 0) deps.log.warn({ deliveries: left }, 'notifications a previous fleetcd left undelivered are recorded as failed');
    this.reconfigure(config);
  }

  /** Listens to the fleet's facts; returns the way to stop listening. */
  watch(events: FleetEvents): () => void {
    const offRuns = events.on('run-finished', ({ run, after, settled }) => this.runFinished(run, settled, after));
    const offFetches = events.on('fetched', ({ ok, error }) => this.fetched(ok, error));
    return () => {
      offRuns();
      offFetches();
    };
  }

  /** Takes a reloaded config's `notifications`: new receivers get a queue, removed ones are stopped. */
  reconfigure(config: Config): void {
    this.config = config;
    const names = new Set(config.notifications.map((r) => r.name));
    for (const [name, queue] of this.queues) {
      if (names.has(name)) continue;
      queue.stop('notification removed from the config');
      this.queues.delete(name);
    }
    for (const receiver of config.notifications) {
      const queue = this.queues.get(receiver.name);
      if (queue) queue.update(receiver);
      else this.queues.set(receiver.name, new ReceiverQueue(receiver, { store: this.store, log: this.deps.log, policy: this.policy }));
    }
  }

  /** The newest deliveries first (GET /api/v1/notifications). */
  recent(limit: number): Delivery[] {
    return this.store.recent(limit);
  }

  /** Retention (the pruner's pass): deliveries older than `cutoff` go. */
  prune(cutoff: Date): number {
    const removed = this.store.removeOlderThan(cutoff);
    if (removed > 0) this.deps.log.info({ deliveries: removed }, 'pruned old notification deliveries');
    return removed;
  }

  /** Stops every queue; deliveries in flight or waiting are recorded as abandoned. Call before the database closes. */
  stop(): void {
    this.stopped = true;
    for (const queue of this.queues.values()) queue.stop('fleetcd stopped');
  }

  /**
   * Events follow the settled status (a recovery is told by the verify check, not the apply; known
   * non-idempotent changes are not drift); the notice shows the target's status as the API does.
   */
  private runFinished(run: RunSummary, settled: { before: TargetStatus; after: TargetStatus }, after: TargetStatus): void {
    const events = runEvents(run, settled.before, settled.after).filter((event) => this.receiversOf(event).length > 0);
    if (events.length === 0) return;
    const facts = this.factsOf(run);
    const at = new Date().toISOString();
    for (const event of events) this.dispatch(runNotice({ event, run, status: after, facts, base: pageBase(this.config.api), at }));
  }

  private fetched(ok: boolean, error: string | null): void {
    const fired = fetchEvents(this.sourceFailing, ok);
    this.sourceFailing = !ok;
    if (fired.length > 0) this.dispatch(sourceNotice({ error, base: pageBase(this.config.api), at: new Date().toISOString() }));
  }

  /** Records a delivery for each receiver that wants the event and queues it; never waits for a send. */
  private dispatch(notice: Notice): void {
    if (this.stopped) return;
    for (const receiver of this.receiversOf(notice.event)) {
      const queue = this.queues.get(receiver.name);
      if (!queue) continue;
      const id = this.store.create({ notification: receiver.name, event: notice.event, target: notice.target, runId: notice.run?.id ?? null, summary: notice.text });
      this.deps.log.debug({ notification: receiver.name, event: notice.event, target: notice.target, runId: notice.run?.id ?? null, delivery: id }, 'notification queued');
      queue.push({ id, notice });
    }
  }

  private receiversOf(event: Notice['event']): Config['notifications'] {
    return this.config.notifications.filter((receiver) => receiver.events.includes(event));
  }

  /** The target's problem, drifted hosts and non-idempotent tasks, the run's changed tasks; a target that just vanished from the revision has none. */
  private factsOf(run: RunSummary): TargetFacts {
    try {
      const target = this.deps.fleet.target(run.target);
      const changedTasks = [...new Set(this.deps.fleet.run(run.id).changes.map((change) => change.task))];
      return {
        problem: target.problem,
        driftedHosts: target.hosts.filter((host) => host.status === 'drifted').length,
        changedTasks,
        nonIdempotentTasks: target.nonIdempotentTasks,
      };
    } catch {
      return { problem: null, driftedHosts: 0 };
    }
  }
}
