import { prepared, type Db } from './db.js';
import {
  conclusiveStatuses,
  type Commit,
  type Counts,
  type Coverage,
  type HostRecap,
  type RunDetail,
  type RunKind,
  type RunResult,
  type RunStatus,
  type RunSummary,
  type TaskResult,
  type Trigger,
} from './types.js';

export type RunRow = {
  id: number;
  target: string;
  kind: RunKind;
  trigger: Trigger;
  revision: string;
  status: RunStatus;
  host_limit: string | null;
  queued_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  error: string | null;
  followed_by: number | null;
  pgid: number | null;
  pg_start: number | null;
  requested_by: string | null;
  preview_id: number | null;
  warnings: string | null;
  coverage: string | null;
  malformed_events: number;
} & Counts & { hosts: number };

type TaskRow = {
  id: number;
  host: string;
  task: string;
  module: string | null;
  path: string | null;
  status: TaskResult['status'];
  duration_ms: number | null;
  message: string | null;
  diff: string | null;
  truncated: number;
  censored: number;
  ignored: number;
  rescued: number;
  unverified: string | null;
};

const now = (): string => new Date().toISOString();
const conclusive = `('${conclusiveStatuses.join("', '")}')`;

export function toSummary(row: RunRow): RunSummary {
  return {
    id: row.id,
    target: row.target,
    kind: row.kind,
    trigger: row.trigger,
    revision: row.revision,
    status: row.status,
    limit: row.host_limit,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    exitCode: row.exit_code,
    error: row.error,
    followedBy: row.followed_by,
    requestedBy: row.requested_by,
    previewId: row.preview_id,
    summary: {
      hosts: row.hosts,
      ok: row.ok,
      changed: row.changed,
      failed: row.failed,
      unreachable: row.unreachable,
      skipped: row.skipped,
    },
  };
}

const parseDiff = (text: string | null): unknown[] | null => (text === null ? null : (JSON.parse(text) as unknown[]));

/** A run the process-group sweep at start-up must look at: it was running when its daemon died. */
export type UnfinishedRun = { id: number; target: string; pgid: number | null; pgStart: number | null };

/**
 * Typed access to the runs tables. Every write is one statement or one transaction; `finish` is the only
 * writer of a run's final state, and it keeps the target pointers (targets table) in step in the same
 * transaction, so a reader never sees a finished run that the target's status does not know about.
 */
export class RunStore {
  constructor(private readonly db: Db) {}

  /** Records a run the reconciler has accepted; it shows as `queued` until `start`. */
  create(input: {
    target: string;
    kind: RunKind;
    trigger: Trigger;
    revision: string;
    limit?: string;
    requestedBy?: string;
    previewId?: number;
  }): number {
    const result = prepared(this.db, `INSERT INTO runs (target, kind, trigger, revision, status, host_limit, queued_at, requested_by, preview_id)
         VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)`,
      )
      .run(
        input.target,
        input.kind,
        input.trigger,
        input.revision,
        input.limit ?? null,
        now(),
        input.requestedBy ?? null,
        input.previewId ?? null,
      );
    return Number(result.lastInsertRowid);
  }

  /** Marks the run running at the revision and host limit it really runs with. */
  start(id: number, revision: string, limit: string | null): void {
    this.db.transaction(() => {
      prepared(this.db, `UPDATE runs SET status = 'running', started_at = ?, revision = ?, host_limit = ? WHERE id = ?`)
        .run(now(), revision, limit, id);
      prepared(this.db, `INSERT INTO targets (name, last_started) SELECT target, id FROM runs WHERE id = ? AND preview_id IS NULL
           ON CONFLICT (name) DO UPDATE SET last_started = excluded.last_started`,
        )
        .run(id);
    })();
  }

  /**
   * The process group of the run's ansible-playbook and its leader's start time (clock ticks since boot), so a
   * daemon restarted after a crash can tell the same process from a new one that reuses the pid.
   */
  recordProcess(id: number, pgid: number, startTicks: number | null): void {
    prepared(this.db, `UPDATE runs SET pgid = ?, pg_start = ? WHERE id = ?`).run(pgid, startTicks, id);
  }

  /** Stores a burst of task results in one transaction (see reconcile/task-writer.ts). */
  addTasks(runId: number, tasks: readonly TaskResult[]): void {
    this.db.transaction(() => {
      for (const task of tasks) this.addTask(runId, task);
    })();
  }

  /** Stores one task result; called as events stream in, so memory never holds a run's results. */
  addTask(runId: number, task: TaskResult): void {
    prepared(this.db, `INSERT INTO run_tasks (run_id, host, task, module, path, status, duration_ms, message, diff, truncated, censored, ignored, rescued, unverified)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        runId,
        task.host,
        task.task,
        task.module,
        task.path,
        task.status,
        task.durationMs,
        task.message,
        task.diff === null ? null : JSON.stringify(task.diff),
        task.truncated ? 1 : 0,
        task.censored ? 1 : 0,
        task.ignored ? 1 : 0,
        task.rescued ? 1 : 0,
        task.unverified,
      );
  }

  /**
   * Writes the final state of a run, its per-host recap, its coverage (checks) and the target pointers at once.
   * A run that already ended is never rewritten: false then.
   */
  finish(id: number, result: RunResult): boolean {
    const totals = { ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0 };
    for (const recap of result.hosts.values()) {
      totals.ok += recap.ok;
      totals.changed += recap.changed;
      totals.failed += recap.failed;
      totals.unreachable += recap.unreachable;
      totals.skipped += recap.skipped;
    }
    const insertHost = prepared(this.db, `INSERT OR REPLACE INTO run_hosts (run_id, host, ok, changed, failed, unreachable, skipped, rescued, ignored)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db.transaction((): boolean => {
      const row = prepared(this.db, `SELECT kind, status FROM runs WHERE id = ?`).get(id) as { kind: RunKind; status: RunStatus } | undefined;
      if (!row || (row.status !== 'queued' && row.status !== 'running')) return false;
      for (const [host, r] of result.hosts) {
        insertHost.run(id, host, r.ok, r.changed, r.failed, r.unreachable, r.skipped, r.rescued, r.ignored);
      }
      const coverage = row.kind === 'check' && result.status !== 'cancelled' && result.status !== 'interrupted' ? this.coverage(id) : null;
      const at = now();
      prepared(this.db, `UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, error = ?, hosts = ?,
             ok = ?, changed = ?, failed = ?, unreachable = ?, skipped = ?, warnings = ?, coverage = ?, malformed_events = ?,
             started_at = CASE WHEN status = 'queued' AND ? IN ('cancelled', 'interrupted') THEN NULL ELSE COALESCE(started_at, ?) END
           WHERE id = ?`,
        )
        .run(
          result.status,
          at,
          result.exitCode,
          result.error,
          result.hosts.size,
          totals.ok,
          totals.changed,
          totals.failed,
          totals.unreachable,
          totals.skipped,
          result.warnings && result.warnings.length > 0 ? JSON.stringify(result.warnings) : null,
          coverage ? JSON.stringify(coverage) : null,
          result.malformedEvents ?? 0,
          result.status,
          at,
          id,
        );
      this.updateTargetPointers(id);
      return true;
    })();
  }

  /** Target pointers and per-host recaps follow a run that ended conclusively (never a preview's run). */
  private updateTargetPointers(id: number): void {
    prepared(this.db, `INSERT INTO targets (name, last_conclusive, last_check, last_apply)
         SELECT target,
                CASE WHEN status IN ${conclusive} THEN id END,
                CASE WHEN kind = 'check' AND status IN ('succeeded', 'failed') THEN id END,
                CASE WHEN kind = 'apply' AND status IN ${conclusive} THEN id END
         FROM runs WHERE id = @id AND preview_id IS NULL
         ON CONFLICT (name) DO UPDATE SET
           last_conclusive = COALESCE(excluded.last_conclusive, last_conclusive),
           last_check = COALESCE(excluded.last_check, last_check),
           last_apply = COALESCE(excluded.last_apply, last_apply)`,
      )
      .run({ id });
    prepared(this.db, `INSERT OR REPLACE INTO target_hosts (target, host, run_id, kind, ok, changed, failed, unreachable, skipped, rescued, ignored)
         SELECT r.target, h.host, r.id, r.kind, h.ok, h.changed, h.failed, h.unreachable, h.skipped, h.rescued, h.ignored
         FROM run_hosts h JOIN runs r ON r.id = h.run_id
         WHERE r.id = ? AND r.preview_id IS NULL AND r.status IN ${conclusive}`,
      )
      .run(id);
  }

  /**
   * Makes a queued run an apply: a reconcile opens its first run as a check, and turns it into the apply when it
   * applies without a precheck, so the run a request was answered with is still the one that executes first.
   */
  becomeApply(id: number): void {
    prepared(this.db, `UPDATE runs SET kind = 'apply' WHERE id = ? AND status = 'queued'`).run(id);
  }

  setFollowedBy(id: number, next: number): void {
    prepared(this.db, `UPDATE runs SET followed_by = ? WHERE id = ?`).run(next, id);
  }

  /** Runs a dead daemon left `running`, with their process groups: the start-up sweep stops what is still alive. */
  unfinished(): UnfinishedRun[] {
    return prepared(this.db, `SELECT id, target, pgid, pg_start AS pgStart FROM runs WHERE status = 'running' ORDER BY id`)
      .all() as UnfinishedRun[];
  }

  /** At start-up: runs a dead daemon left `running` or `queued` did not finish; say so. */
  markInterrupted(): number {
    const result = prepared(this.db, `UPDATE runs SET status = 'interrupted', finished_at = ?, error = COALESCE(error, 'fleetcd stopped before this run finished')
         WHERE status IN ('queued', 'running')`,
      )
      .run(now());
    return result.changes;
  }

  /** Remembers what a revision is, so runs at it can show its subject and author. */
  rememberCommit(commit: Commit): void {
    prepared(this.db, `INSERT OR IGNORE INTO commits (sha, subject, author, committed_at) VALUES (?, ?, ?, ?)`)
      .run(commit.sha, commit.subject, commit.author, commit.committedAt);
  }

  get(id: number): RunSummary | undefined {
    const row = this.row(id);
    return row && toSummary(row);
  }

  row(id: number): RunRow | undefined {
    return prepared(this.db, `SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
  }

  list(filter: { target?: string; limit: number; beforeId?: number }): RunSummary[] {
    const rows = prepared(this.db, `SELECT * FROM runs WHERE (@target IS NULL OR target = @target) AND (@before IS NULL OR id < @before)
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({ target: filter.target ?? null, before: filter.beforeId ?? null, limit: filter.limit }) as RunRow[];
    return rows.map(toSummary);
  }

  /** A preview's runs, in the order they were made. */
  previewRuns(previewId: number): RunSummary[] {
    return (prepared(this.db, `SELECT * FROM runs WHERE preview_id = ? ORDER BY id`).all(previewId) as RunRow[]).map(toSummary);
  }

  /** The changes the target's newest check at a revision reported (never a preview's): the drift already there. */
  newestCheckChanges(target: string, revision: string): RunDetail['changes'] {
    const row = prepared(this.db, `SELECT id FROM runs WHERE target = ? AND revision = ? AND kind = 'check' AND status = 'succeeded' AND preview_id IS NULL
         ORDER BY id DESC LIMIT 1`,
      )
      .get(target, revision) as { id: number } | undefined;
    return row ? this.changes(row.id) : [];
  }

  /**
   * The revisions this target's own runs started at (never a preview's), newest first: where its reconciles can
   * go on when the newest tip cannot be prepared. A run that never started (its revision failed to prepare) is not
   * one of them.
   */
  ranRevisions(target: string): string[] {
    // The newest runs through the (target, id) index, not a GROUP BY over the target's whole history: status
    // reads ask while a tip is broken.
    const rows = prepared(this.db, `SELECT revision FROM runs WHERE target = ? AND preview_id IS NULL AND started_at IS NOT NULL
         ORDER BY id DESC LIMIT 200`,
      )
      .all(target) as Array<{ revision: string }>;
    return [...new Set(rows.map((row) => row.revision))];
  }

  /** Whether this target ever finished an apply of this revision without failure. */
  hasApplied(target: string, revision: string): boolean {
    const row = prepared(this.db, `SELECT 1 FROM runs WHERE target = ? AND revision = ? AND kind = 'apply' AND status = 'succeeded' AND failed = 0 LIMIT 1`,
      )
      .get(target, revision);
    return row !== undefined;
  }

  /**
   * When a target first reached a revision: for a target that applies, the verify check after a clean apply
   * of it found nothing to change; for one that only detects, a check of it found nothing to change. Hosts
   * that were not reached do not count, but at least one host must have been.
   */
  reachedAt(target: string, revision: string, mode: 'detect' | 'apply'): string | undefined {
    const row =
      mode === 'apply'
        ? (prepared(
              this.db,
              `SELECT MIN(v.finished_at) AS at FROM runs a JOIN runs v ON v.id = a.followed_by
               WHERE a.target = ? AND a.revision = ? AND a.kind = 'apply' AND a.status = 'succeeded' AND a.failed = 0
                 AND a.preview_id IS NULL AND v.status = 'succeeded' AND v.changed = 0 AND v.failed = 0 AND v.hosts > v.unreachable`,
            ).get(target, revision) as { at: string | null })
        : (prepared(
              this.db,
              `SELECT MIN(finished_at) AS at FROM runs
               WHERE target = ? AND revision = ? AND kind = 'check' AND status = 'succeeded' AND changed = 0 AND failed = 0
                 AND hosts > unreachable AND preview_id IS NULL`,
            ).get(target, revision) as { at: string | null });
    return row.at ?? undefined;
  }

  /** The verify check that followed the newest successful apply of this revision, if it finished. */
  latestVerifyCheck(target: string, revision: string): number | undefined {
    const row = prepared(this.db, `SELECT v.id FROM runs a JOIN runs v ON v.id = a.followed_by
         WHERE a.target = ? AND a.revision = ? AND a.kind = 'apply' AND a.status = 'succeeded' AND v.status = 'succeeded'
         ORDER BY a.id DESC LIMIT 1`,
      )
      .get(target, revision) as { id: number } | undefined;
    return row?.id;
  }

  /** Task names the verify check after the newest apply of this revision still reported as changing. */
  nonIdempotentTasks(target: string, revision: string): string[] {
    const verifyId = this.latestVerifyCheck(target, revision);
    return verifyId === undefined ? [] : this.changedTaskNames(verifyId);
  }

  /** Distinct names of the tasks that changed (or would change) in a run, in the order they first did. */
  changedTaskNames(runId: number): string[] {
    const rows = prepared(this.db, `SELECT task FROM run_tasks WHERE run_id = ? AND status = 'changed' GROUP BY task ORDER BY MIN(id)`)
      .all(runId) as Array<{ task: string }>;
    return rows.map((r) => r.task);
  }

  /** Hosts of a run that changed (or would change) something and were reached: drift is never an unreachable host. */
  driftedHosts(runId: number): string[] {
    const rows = prepared(this.db, `SELECT host FROM run_hosts WHERE run_id = ? AND changed > 0 AND unreachable = 0 ORDER BY host`)
      .all(runId) as Array<{ host: string }>;
    return rows.map((r) => r.host);
  }

  /** Names of tasks that changed in a run, per host. */
  changedTasks(runId: number): Array<{ host: string; task: string }> {
    return prepared(this.db, `SELECT host, task FROM run_tasks WHERE run_id = ? AND status = 'changed' ORDER BY id`)
      .all(runId) as Array<{ host: string; task: string }>;
  }

  detail(id: number): RunDetail | undefined {
    const row = this.row(id);
    if (!row) return undefined;
    const hosts = prepared(this.db, `SELECT host, ok, changed, failed, unreachable, skipped, rescued, ignored FROM run_hosts WHERE run_id = ? ORDER BY host`,
      )
      .all(id) as RunDetail['hosts'];
    return {
      ...toSummary(row),
      hosts,
      changes: this.changes(id),
      failures: prepared(this.db, `SELECT host, task, message FROM run_tasks WHERE run_id = ? AND status IN ('failed', 'unreachable') AND ignored = 0 AND rescued = 0 ORDER BY id`,
        )
        .all(id) as RunDetail['failures'],
      coverage: row.kind === 'check' ? this.storedCoverage(row) : null,
      warnings: row.warnings ? (JSON.parse(row.warnings) as string[]) : [],
      malformedEvents: row.malformed_events ?? 0,
    };
  }

  /** A run's changes (drift, for a check) with their diffs. */
  changes(id: number): RunDetail['changes'] {
    const rows = prepared(this.db, `SELECT host, task, module, diff FROM run_tasks WHERE run_id = ? AND status = 'changed' ORDER BY id`)
      .all(id) as Array<{ host: string; task: string; module: string | null; diff: string | null }>;
    return rows.map((row) => ({ ...row, diff: parseDiff(row.diff) }));
  }

  /** The coverage written when the run ended; computed from its task rows for a run still going or older than that column. */
  storedCoverage(row: Pick<RunRow, 'id' | 'coverage'>): Coverage {
    return row.coverage ? (JSON.parse(row.coverage) as Coverage) : this.coverage(row.id);
  }

  /** Distinct tasks of a check run and which of them check mode could not evaluate. */
  coverage(runId: number): Coverage {
    const rows = prepared(this.db, `SELECT task, MAX(unverified) AS reason FROM run_tasks WHERE run_id = ?
         GROUP BY task, path ORDER BY MIN(id)`,
      )
      .all(runId) as Array<{ task: string; reason: string | null }>;
    const unverified = rows.flatMap((r) => (r.reason === null ? [] : [{ task: r.task, reason: r.reason }]));
    const verified = rows.length - unverified.length;
    const names = unverified.map((u) => u.task).join(', ');
    const text =
      `drift checked on ${verified} of ${rows.length} tasks` +
      (unverified.length > 0 ? `; ${unverified.length} unverifiable: ${names}` : '');
    return { tasks: rows.length, verified, unverified, text };
  }

  /** A page of a run's recorded task results, oldest first, after the cursor `afterId`. */
  events(runId: number, afterId: number, limit: number): Array<TaskResult & { id: number }> {
    const rows = prepared(this.db, `SELECT id, host, task, module, path, status, duration_ms, message, diff, truncated, censored, ignored, rescued, unverified
         FROM run_tasks WHERE run_id = ? AND id > ? ORDER BY id LIMIT ?`,
      )
      .all(runId, afterId, limit) as TaskRow[];
    return rows.map((row) => ({
      id: row.id,
      host: row.host,
      task: row.task,
      module: row.module,
      path: row.path,
      status: row.status,
      durationMs: row.duration_ms,
      message: row.message,
      diff: parseDiff(row.diff),
      truncated: row.truncated === 1,
      censored: row.censored === 1,
      ignored: row.ignored === 1,
      rescued: row.rescued === 1,
      unverified: row.unverified,
    }));
  }

  /** A host's newest task results of one status (changes or failures) across targets, previews left out. */
  hostResults(host: string, kind: 'changed' | 'failed', limit: number): Array<{ runId: number; target: string; task: string; module: string | null; message: string | null; diff: unknown[] | null }> {
    const statuses = kind === 'changed' ? `('changed')` : `('failed', 'unreachable')`;
    const rows = prepared(this.db, `SELECT t.run_id AS runId, r.target, t.task, t.module, t.message, t.diff FROM run_tasks t JOIN runs r ON r.id = t.run_id
         WHERE t.host = ? AND t.status IN ${statuses} AND t.ignored = 0 AND t.rescued = 0 AND r.preview_id IS NULL
         ORDER BY t.id DESC LIMIT ?`,
      )
      .all(host, limit) as Array<{ runId: number; target: string; task: string; module: string | null; message: string | null; diff: string | null }>;
    return rows.map((row) => ({ ...row, diff: parseDiff(row.diff) }));
  }

  /** The newest runs that included a host, previews left out. */
  hostRuns(host: string, limit: number): RunSummary[] {
    const rows = prepared(this.db, `SELECT r.* FROM run_hosts h JOIN runs r ON r.id = h.run_id WHERE h.host = ? AND r.preview_id IS NULL ORDER BY r.id DESC LIMIT ?`,
      )
      .all(host, limit) as RunRow[];
    return rows.map(toSummary);
  }

  /** Per host, the recap from the newest conclusive run of the target that included the host. */
  latestHostRecaps(target: string): Array<{ host: string; kind: RunKind; runId: number } & HostRecap> {
    return prepared(this.db, `SELECT host, kind, run_id AS runId, ok, changed, failed, unreachable, skipped, rescued, ignored
         FROM target_hosts WHERE target = ? ORDER BY host`,
      )
      .all(target) as Array<{ host: string; kind: RunKind; runId: number } & HostRecap>;
  }
}
