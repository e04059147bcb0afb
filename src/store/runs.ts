import type { Db } from './db.js';
import type {
  Counts,
  Coverage,
  HostRecap,
  RunDetail,
  RunKind,
  RunStatus,
  RunSummary,
  TaskResult,
  Trigger,
} from './types.js';

type RunRow = {
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

function toSummary(row: RunRow): RunSummary {
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

/** Typed access to the runs tables. Every write is one statement or one transaction. */
export class RunStore {
  constructor(private readonly db: Db) {}

  /** Records a run the reconciler has accepted; it shows as `queued` until `start`. */
  create(input: { target: string; kind: RunKind; trigger: Trigger; revision: string; limit?: string }): number {
    const result = this.db
      .prepare(
        `INSERT INTO runs (target, kind, trigger, revision, status, host_limit, queued_at)
         VALUES (?, ?, ?, ?, 'queued', ?, ?)`,
      )
      .run(input.target, input.kind, input.trigger, input.revision, input.limit ?? null, now());
    return Number(result.lastInsertRowid);
  }

  start(id: number, revision: string, limit: string | null): void {
    this.db
      .prepare(`UPDATE runs SET status = 'running', started_at = ?, revision = ?, host_limit = ? WHERE id = ?`)
      .run(now(), revision, limit, id);
  }

  /** Stores one task result; called as events stream in, so memory never holds a run's results. */
  addTask(runId: number, task: TaskResult): void {
    this.db
      .prepare(
        `INSERT INTO run_tasks (run_id, host, task, module, path, status, duration_ms, message, diff, truncated, censored, ignored, rescued, unverified)
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

  /** Writes the final state of a run and its per-host recap at once: a reader never sees half of it. */
  finish(
    id: number,
    result: { status: RunStatus; exitCode: number | null; error: string | null; hosts: Map<string, HostRecap> },
  ): void {
    const totals = { ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0 };
    for (const recap of result.hosts.values()) {
      totals.ok += recap.ok;
      totals.changed += recap.changed;
      totals.failed += recap.failed;
      totals.unreachable += recap.unreachable;
      totals.skipped += recap.skipped;
    }
    const insertHost = this.db.prepare(
      `INSERT OR REPLACE INTO run_hosts (run_id, host, ok, changed, failed, unreachable, skipped, rescued, ignored)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const [host, r] of result.hosts) {
        insertHost.run(id, host, r.ok, r.changed, r.failed, r.unreachable, r.skipped, r.rescued, r.ignored);
      }
      this.db
        .prepare(
          `UPDATE runs SET status = ?, finished_at = ?, exit_code = ?, error = ?, hosts = ?,
             ok = ?, changed = ?, failed = ?, unreachable = ?, skipped = ?,
             started_at = COALESCE(started_at, ?)
           WHERE id = ?`,
        )
        .run(
          result.status,
          now(),
          result.exitCode,
          result.error,
          result.hosts.size,
          totals.ok,
          totals.changed,
          totals.failed,
          totals.unreachable,
          totals.skipped,
          now(),
          id,
        );
    })();
  }

  /** Marks a queued run that never started (cancelled, or the daemon stopped first). */
  abandon(id: number, status: 'cancelled' | 'interrupted', error: string): void {
    this.db
      .prepare(`UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`)
      .run(status, error, now(), id);
  }

  setFollowedBy(id: number, next: number): void {
    this.db.prepare(`UPDATE runs SET followed_by = ? WHERE id = ?`).run(next, id);
  }

  /** At start-up: runs a dead daemon left `running` or `queued` did not finish; say so. */
  markInterrupted(): number {
    const result = this.db
      .prepare(
        `UPDATE runs SET status = 'interrupted', finished_at = ?, error = COALESCE(error, 'fleetcd stopped before this run finished')
         WHERE status IN ('queued', 'running')`,
      )
      .run(now());
    return result.changes;
  }

  get(id: number): RunSummary | undefined {
    const row = this.db.prepare(`SELECT * FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row && toSummary(row);
  }

  list(filter: { target?: string; limit: number; beforeId?: number }): RunSummary[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM runs WHERE (@target IS NULL OR target = @target) AND (@before IS NULL OR id < @before)
         ORDER BY id DESC LIMIT @limit`,
      )
      .all({ target: filter.target ?? null, before: filter.beforeId ?? null, limit: filter.limit }) as RunRow[];
    return rows.map(toSummary);
  }

  /** The newest run of a target that has started (running or finished). */
  lastStarted(target: string): RunSummary | undefined {
    const row = this.db
      .prepare(`SELECT * FROM runs WHERE target = ? AND status <> 'queued' ORDER BY id DESC LIMIT 1`)
      .get(target) as RunRow | undefined;
    return row && toSummary(row);
  }

  /** Newest finished runs of a target that say something about the hosts (not cancelled or interrupted). */
  lastConclusive(target: string): RunSummary | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM runs WHERE target = ? AND status IN ('succeeded', 'failed', 'timed-out')
         ORDER BY id DESC LIMIT 1`,
      )
      .get(target) as RunRow | undefined;
    return row && toSummary(row);
  }

  /** The newest finished check of a target that ran tasks. */
  lastCheck(target: string): RunSummary | undefined {
    const row = this.db
      .prepare(`SELECT * FROM runs WHERE target = ? AND kind = 'check' AND status IN ('succeeded', 'failed') ORDER BY id DESC LIMIT 1`)
      .get(target) as RunRow | undefined;
    return row && toSummary(row);
  }

  /** Whether this target ever finished an apply of this revision without failure. */
  hasApplied(target: string, revision: string): boolean {
    const row = this.db
      .prepare(
        `SELECT 1 FROM runs WHERE target = ? AND revision = ? AND kind = 'apply' AND status = 'succeeded' AND failed = 0 LIMIT 1`,
      )
      .get(target, revision);
    return row !== undefined;
  }

  /** Per host, the recap from the newest conclusive run of the target that included the host. */
  latestHostRecaps(target: string): Array<{ host: string; kind: RunKind; runId: number } & HostRecap> {
    return this.db
      .prepare(
        `SELECT h.host, r.kind, r.id AS runId, h.ok, h.changed, h.failed, h.unreachable, h.skipped, h.rescued, h.ignored
         FROM run_hosts h JOIN runs r ON r.id = h.run_id
         WHERE r.id = (
           SELECT MAX(r2.id) FROM run_hosts h2 JOIN runs r2 ON r2.id = h2.run_id
           WHERE h2.host = h.host AND r2.target = @target AND r2.status IN ('succeeded', 'failed', 'timed-out')
         )
         ORDER BY h.host`,
      )
      .all({ target }) as Array<{ host: string; kind: RunKind; runId: number } & HostRecap>;
  }

  /** The verify check that followed the newest successful apply of this revision, if it finished. */
  latestVerifyCheck(target: string, revision: string): number | undefined {
    const row = this.db
      .prepare(
        `SELECT v.id FROM runs a JOIN runs v ON v.id = a.followed_by
         WHERE a.target = ? AND a.revision = ? AND a.kind = 'apply' AND a.status = 'succeeded' AND v.status = 'succeeded'
         ORDER BY a.id DESC LIMIT 1`,
      )
      .get(target, revision) as { id: number } | undefined;
    return row?.id;
  }

  /** Names of tasks that changed in a run, per host. */
  changedTasks(runId: number): Array<{ host: string; task: string }> {
    return this.db
      .prepare(`SELECT host, task FROM run_tasks WHERE run_id = ? AND status = 'changed' ORDER BY id`)
      .all(runId) as Array<{ host: string; task: string }>;
  }

  detail(id: number): RunDetail | undefined {
    const summary = this.get(id);
    if (!summary) return undefined;
    const hosts = this.db
      .prepare(
        `SELECT host, ok, changed, failed, unreachable, skipped, rescued, ignored FROM run_hosts WHERE run_id = ? ORDER BY host`,
      )
      .all(id) as RunDetail['hosts'];
    const changes = (
      this.db
        .prepare(`SELECT host, task, module, diff FROM run_tasks WHERE run_id = ? AND status = 'changed' ORDER BY id`)
        .all(id) as Array<{ host: string; task: string; module: string | null; diff: string | null }>
    ).map((row) => ({ ...row, diff: row.diff === null ? null : (JSON.parse(row.diff) as unknown[]) }));
    const failures = this.db
      .prepare(
        `SELECT host, task, message FROM run_tasks WHERE run_id = ? AND status IN ('failed', 'unreachable') AND ignored = 0 AND rescued = 0 ORDER BY id`,
      )
      .all(id) as RunDetail['failures'];
    return { ...summary, hosts, changes, failures, coverage: summary.kind === 'check' ? this.coverage(id) : null };
  }

  /** Distinct tasks of a check run and which of them check mode could not evaluate. */
  coverage(runId: number): Coverage {
    const rows = this.db
      .prepare(
        `SELECT task, MAX(unverified) AS reason FROM run_tasks WHERE run_id = ?
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
    const rows = this.db
      .prepare(
        `SELECT id, host, task, module, path, status, duration_ms, message, diff, truncated, censored, ignored, rescued, unverified
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
      diff: row.diff === null ? null : (JSON.parse(row.diff) as unknown[]),
      truncated: row.truncated === 1,
      censored: row.censored === 1,
      ignored: row.ignored === 1,
      rescued: row.rescued === 1,
      unverified: row.unverified,
    }));
  }
}
