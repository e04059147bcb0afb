import { prepared, type Db } from './db.js';

/** How long a delivery id is remembered: forges redeliver within hours; a day covers a person's redeliver click. */
export const webhookDeliveryWindowMs = 24 * 3_600_000;

/** A delivery as the forge names it: its provider and the id of its delivery header. */
export type DeliveryKey = { provider: string; id: string };

/**
 * The `webhook_deliveries` table: deliveries answered 2xx within the window, so a forge's retry or a replay
 * of the same delivery does nothing twice. Rows are written only for authenticated deliveries (nobody without
 * the secret can grow it) and pruned by the retention pass once older than the window.
 */
export class WebhookDeliveries {
  constructor(
    private readonly db: Db,
    private readonly windowMs = webhookDeliveryWindowMs,
  ) {}

  /** When this delivery was first answered 2xx, if that is within the window. */
  seen(key: DeliveryKey, now = new Date()): string | undefined {
    const row = prepared(this.db, `SELECT received_at FROM webhook_deliveries WHERE provider = ? AND delivery_id = ? AND received_at >= ?`)
      .get(key.provider, key.id, cutoff(now, this.windowMs)) as { received_at: string } | undefined;
    return row?.received_at;
  }

  /** Records a delivery answered 2xx (one seen beyond the window and not pruned yet starts a new window). */
  remember(key: DeliveryKey & { event: string | null }, now = new Date()): void {
    prepared(
      this.db,
      `INSERT INTO webhook_deliveries (provider, delivery_id, event, received_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (provider, delivery_id) DO UPDATE SET event = excluded.event, received_at = excluded.received_at`,
    ).run(key.provider, key.id, key.event, now.toISOString());
  }
}

/** Deletes the deliveries older than the window; the retention pass calls it (see RunRetention). */
export function pruneWebhookDeliveries(db: Db, now: Date, windowMs = webhookDeliveryWindowMs): number {
  return prepared(db, `DELETE FROM webhook_deliveries WHERE received_at < ?`).run(cutoff(now, windowMs)).changes;
}

const cutoff = (now: Date, windowMs: number): string => new Date(now.getTime() - windowMs).toISOString();
