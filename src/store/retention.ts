import { prepared, type Db } from './db.js';
import { pruneWebhookDeliveries } from './webhook-deliveries.js';

export type RetentionPolicy = { maxAgeMs: number; maxRunsPerTarget: number };

/**
 * Which runs are old enough to go, and their removal. A run goes when it is older than `maxAge` or beyond the
 * newest `maxRunsPerTarget` of its target, unless something still points at it: a target's newest started,
 * conclusive, check and apply runs and the verify check after that apply, every run of a target at the revision
 * it is held at, and anything queued or running.
 */
export class RunRetention {
  constructor(private readonly db: Db) {}

  /** Up to `limit` ids of runs that may go, oldest first. */
  candidates(policy: RetentionPolicy, now: Date, limit: number): number[] {
    const rows = prepared(this.db, `WITH protected(id) AS (
           SELECT last_started FROM targets UNION SELECT last_conclusive FROM targets
           UNION SELECT last_check FROM targets UNION SELECT last_apply FROM targets
           UNION SELECT r.followed_by FROM runs r JOIN targets t ON r.id = t.last_apply
           UNION SELECT r.id FROM runs r JOIN targets t ON t.name = r.target AND r.revision = t.held_revision
         ),
         ranked AS (
           SELECT id, COALESCE(finished_at, queued_at) AS at, ROW_NUMBER() OVER (PARTITION BY target ORDER BY id DESC) AS n
           FROM runs WHERE status NOT IN ('queued', 'running')
         )
         SELECT id FROM ranked
         WHERE (n > @max OR at < @cutoff) AND id NOT IN (SELECT id FROM protected WHERE id IS NOT NULL)
         ORDER BY id LIMIT @limit`,
      )
      .all({ max: policy.maxRunsPerTarget, cutoff: new Date(now.getTime() - policy.maxAgeMs).toISOString(), limit }) as Array<{ id: number }>;
    return rows.map((row) => row.id);
  }

  /** Removes these runs with their host and task rows, in one transaction; links to them from kept runs go. */
  remove(ids: readonly number[]): number {
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    return this.db.transaction((): number => {
      prepared(this.db, `UPDATE runs SET followed_by = NULL WHERE followed_by IN (SELECT value FROM json_each(?))`).run(list);
      return prepared(this.db, `DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))`).run(list).changes;
    })();
  }

  /** Drops audit entries older than `maxAge`: the audit log is kept as long as runs are. */
  pruneAudit(policy: RetentionPolicy, now: Date): number {
    return prepared(this.db, `DELETE FROM audit WHERE at < ?`).run(new Date(now.getTime() - policy.maxAgeMs).toISOString()).changes;
  }

  /** Drops webhook deliveries older than their own 24-hour window (not `maxAge`: they only de-duplicate). */
  pruneWebhookDeliveries(now: Date): number {
    return pruneWebhookDeliveries(this.db, now);
  }

  /** Gives back up to `pages` free pages to the file system (the database uses incremental auto-vacuum). */
  vacuum(pages: number): number {
    const before = this.db.pragma('freelist_count', { simple: true }) as number;
    this.db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
    return before - (this.db.pragma('freelist_count', { simple: true }) as number);
  }

  /** Moves the write-ahead log into the database and truncates it, so it does not grow without bound. */
  checkpoint(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
}
