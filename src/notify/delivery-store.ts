import type { NotificationEvent } from '../config/index.js';
import type { Db } from '../store/db.js';
import type { Delivery, DeliveryStatus } from './types.js';

type DeliveryRow = {
  id: number;
  notification: string;
  event: NotificationEvent;
  target: string | null;
  run_id: number | null;
  summary: string;
  created_at: string;
  attempted_at: string | null;
  attempts: number;
  status: DeliveryStatus;
  http_status: number | null;
  error: string | null;
};

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  notification: row.notification,
  event: row.event,
  target: row.target,
  runId: row.run_id,
  summary: row.summary,
  createdAt: row.created_at,
  attemptedAt: row.attempted_at,
  attempts: row.attempts,
  status: row.status,
  httpStatus: row.http_status,
  error: row.error,
});

const now = (): string => new Date().toISOString();

/**
 * The record of notification deliveries (table `notification_deliveries`, migration 006): a row when an event
 * is queued for a receiver, updated as each attempt starts and ends. Nothing secret is ever written here.
 */
export class DeliveryStore {
  constructor(private readonly db: Db) {}

  /** A delivery queued for its first attempt; its id. */
  create(delivery: { notification: string; event: NotificationEvent; target: string | null; runId: number | null; summary: string }): number {
    const result = this.db
      .prepare(`INSERT INTO notification_deliveries (notification, event, target, run_id, summary, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(delivery.notification, delivery.event, delivery.target, delivery.runId, delivery.summary, now());
    return Number(result.lastInsertRowid);
  }

  /** An attempt starts: counted before it ends, so one cut short by a stop is counted too. */
  attemptStarted(id: number): void {
    this.db.prepare(`UPDATE notification_deliveries SET attempts = attempts + 1, attempted_at = ? WHERE id = ?`).run(now(), id);
  }

  /** An attempt ended: `pending` while retries remain, else `delivered` or `failed`. */
  attemptEnded(id: number, end: { status: DeliveryStatus; httpStatus: number | null; error: string | null }): void {
    this.db.prepare(`UPDATE notification_deliveries SET status = ?, http_status = ?, error = ? WHERE id = ?`).run(end.status, end.httpStatus, end.error, id);
  }

  /** A delivery given up without (more) attempts: dropped from a full queue, or abandoned at a stop. */
  giveUp(id: number, error: string): void {
    this.db.prepare(`UPDATE notification_deliveries SET status = 'failed', error = ? WHERE id = ? AND status = 'pending'`).run(error, id);
  }

  /** Every delivery still pending (those a previous process left behind, at start): failed with `error`. */
  giveUpPending(error: string): number {
    return this.db.prepare(`UPDATE notification_deliveries SET status = 'failed', error = ? WHERE status = 'pending'`).run(error).changes;
  }

  /** The newest deliveries first. */
  recent(limit: number): Delivery[] {
    const rows = this.db.prepare(`SELECT * FROM notification_deliveries ORDER BY id DESC LIMIT ?`).all(limit) as DeliveryRow[];
    return rows.map(toDelivery);
  }

  /** Retention: finished deliveries created before `cutoff` go. */
  removeOlderThan(cutoff: Date): number {
    return this.db
      .prepare(`DELETE FROM notification_deliveries WHERE created_at < ? AND status != 'pending'`)
      .run(cutoff.toISOString()).changes;
  }
}
