import { prepared, type Db } from './db.js';
import { pruneWebhookDeliveries } from './webhook-deliveries.js';

export type RetentionPolicy = { maxAgeMs: number; maxRunsPerTarget: number };

/**
 * Previews kept: those not ended, and ended ones within `maxAge` among the newest `maxRunsPerTarget` previews.
 * A preview's runs live and die with it (they never count toward their target's runs).
 */
const keptPreviews = `SELECT id FROM previews WHERE status IN ('queued', 'running')
  OR (COALESCE(finished_at, created_at) >= @cutoff AND id IN (SELECT id FROM previews ORDER BY id DESC LIMIT @max))`;

/** Revisions the record still refers to: kept runs and kept previews. Their rows elsewhere stay. */
const referenced = `SELECT revision FROM runs UNION SELECT revision FROM previews WHERE revision IS NOT NULL`;

/**
 * Which runs are old enough to go, and their removal. A run goes when it is older than `maxAge` or beyond the
 * newest `maxRunsPerTarget` of its target, unless something still points at it: a target's newest started,
 * conclusive, check and apply runs and the verify check after that apply, its newest clean apply and clean
 * check (its `revision` is read from them), every run of a target at the revision
 * it is held at, and anything queued or running. A preview's runs go with their preview. The rest of the record
 * follows the runs (`pruneRecords`).
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
           UNION SELECT MAX(id) FROM runs WHERE status = 'succeeded' AND failed = 0 AND preview_id IS NULL AND kind = 'apply' GROUP BY target
           UNION SELECT MAX(id) FROM runs WHERE status = 'succeeded' AND failed = 0 AND preview_id IS NULL AND kind = 'check' AND changed = 0 GROUP BY target
         ),
         ranked AS (
           SELECT id, COALESCE(finished_at, queued_at) AS at, ROW_NUMBER() OVER (PARTITION BY target ORDER BY id DESC) AS n
           FROM runs WHERE status NOT IN ('queued', 'running') AND preview_id IS NULL
         ),
         gone(id) AS (
           SELECT id FROM ranked WHERE n > @max OR at < @cutoff
           UNION SELECT id FROM runs WHERE preview_id IS NOT NULL AND status NOT IN ('queued', 'running')
             AND preview_id NOT IN (${keptPreviews})
         )
         SELECT id FROM gone WHERE id NOT IN (SELECT id FROM protected WHERE id IS NOT NULL)
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

  /**
   * After the runs went: what only they kept. Previews no longer kept once their runs are gone; gate results,
   * source history rows and commit descriptions of revisions neither a kept run, a kept preview nor `inUse`
   * (current, held, running revisions) refers to, the source history also beyond its newest `maxRunsPerTarget`
   * rows per ref or older than `maxAge` (always keeping each ref's newest row and newest accepted row); and a
   * host's latest recap once the run it came from is gone.
   */
  pruneRecords(policy: RetentionPolicy, now: Date, inUse: ReadonlySet<string>): RecordsPruned {
    const cutoff = new Date(now.getTime() - policy.maxAgeMs).toISOString();
    const params = { cutoff, max: policy.maxRunsPerTarget, inUse: JSON.stringify([...inUse]) };
    const keep = `SELECT value FROM json_each(@inUse) UNION ${referenced}`;
    return this.db.transaction((): RecordsPruned => ({
      previews: prepared(this.db, `DELETE FROM previews WHERE id NOT IN (${keptPreviews})
           AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.preview_id = previews.id)`).run(params).changes,
      gateResults: prepared(this.db, `DELETE FROM gate_results WHERE revision NOT IN (${keep})`).run({ inUse: params.inUse }).changes,
      sourceRevisions: prepared(this.db, `DELETE FROM source_revisions WHERE id IN (
           SELECT id FROM (
             SELECT id, sha, status, first_seen_at,
                    ROW_NUMBER() OVER (PARTITION BY url, ref ORDER BY id DESC) AS n,
                    ROW_NUMBER() OVER (PARTITION BY url, ref, status ORDER BY id DESC) AS n_status
             FROM source_revisions)
           WHERE (n > @max OR first_seen_at < @cutoff) AND n > 1 AND NOT (status = 'accepted' AND n_status = 1)
             AND sha NOT IN (${keep}))`).run(params).changes,
      commits: prepared(this.db, `DELETE FROM commits WHERE sha NOT IN (${keep}) AND sha NOT IN (SELECT sha FROM source_revisions)`)
        .run({ inUse: params.inUse }).changes,
      targetHosts: prepared(this.db, `DELETE FROM target_hosts WHERE run_id NOT IN (SELECT id FROM runs)`).run().changes,
    }))();
  }

  /**
   * Revisions of the previews kept (their mirror refs stay) and of those not ended (in use: their gates run
   * before their runs hold the revision), and whether a preview is still fetching its ref (then no preview ref
   * may go: the new one is not on record yet).
   */
  previewRevisions(policy: RetentionPolicy, now: Date): { kept: Set<string>; going: Set<string>; fetching: boolean } {
    const cutoff = new Date(now.getTime() - policy.maxAgeMs).toISOString();
    const rows = prepared(this.db, `SELECT revision, status FROM previews WHERE id IN (${keptPreviews})`)
      .all({ cutoff, max: policy.maxRunsPerTarget }) as Array<{ revision: string | null; status: string }>;
    const going = rows.filter((row) => row.status === 'queued' || row.status === 'running');
    const shas = (list: typeof rows) => new Set(list.flatMap((row) => (row.revision ? [row.revision] : [])));
    return { kept: shas(rows), going: shas(going), fetching: going.some((row) => row.revision === null) };
  }

  /** Of these run ids (log files found on disk), those with no run any more and those still running. */
  logOwners(ids: readonly number[]): { gone: Set<number>; running: Set<number> } {
    const rows = prepared(this.db, `SELECT id, status FROM runs WHERE id IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(ids)) as Array<{ id: number; status: string }>;
    const known = new Map(rows.map((row) => [row.id, row.status]));
    return {
      gone: new Set(ids.filter((id) => !known.has(id))),
      running: new Set(ids.filter((id) => known.get(id) === 'running')),
    };
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

/** Rows `pruneRecords` removed, per table. */
export type RecordsPruned = { previews: number; gateResults: number; sourceRevisions: number; commits: number; targetHosts: number };
