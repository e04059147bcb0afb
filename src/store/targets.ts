import { prepared, type Db } from './db.js';
import { toSummary, type RunRow } from './runs.js';
import type { Commit, Coverage, HostRecap, RunKind, RunSummary } from './types.js';

/** Who set a control on a target, when and why. */
export type Control = { reason: string | null; at: string; by: string };
export type Hold = Control & { revision: string };
export type RetryState = { revision: string; attempt: number; nextAt: string | null };

export type HostCounts = { total: number; drifted: number; unreachable: number; failed: number };

/** What the record knows of one target: the runs its status is made of, and what operators set on it. */
export type TargetRecord = {
  name: string;
  lastStarted: RunSummary | null;
  lastConclusive: RunSummary | null;
  lastCheck: (RunSummary & { coverage: Coverage | null }) | null;
  lastApply: RunSummary | null;
  /** The newest apply that succeeded without a failed task: what the target's hosts run. */
  lastGoodApply: RunSummary | null;
  /** The newest check that succeeded and found nothing to change: what a detect-mode target's hosts match. */
  lastCleanCheck: RunSummary | null;
  suspension: Control | null;
  held: Hold | null;
  retry: RetryState | null;
  hosts: HostCounts;
};

type TargetRow = {
  name: string;
  last_started: number | null;
  last_conclusive: number | null;
  last_check: number | null;
  last_apply: number | null;
  suspended_at: string | null;
  suspended_by: string | null;
  suspended_reason: string | null;
  held_revision: string | null;
  held_at: string | null;
  held_by: string | null;
  held_reason: string | null;
  retry_revision: string | null;
  retry_attempt: number | null;
  retry_next_at: string | null;
};

export type HostRow = { target: string; host: string; kind: RunKind; runId: number } & HostRecap;

const noHosts: HostCounts = { total: 0, drifted: 0, unreachable: 0, failed: 0 };

/**
 * The `targets` and `target_hosts` tables. Reading every target's record costs the same few queries whatever
 * the number of runs: the runs table is only read through the pointers the run store keeps.
 */
export class TargetStore {
  constructor(private readonly db: Db) {}

  /** Records of the named targets (a target without a row gets an empty record). */
  records(names: readonly string[]): Map<string, TargetRecord> {
    const rows = new Map(
      (prepared(this.db, `SELECT * FROM targets`).all() as TargetRow[]).map((row) => [row.name, row] as const),
    );
    const good = this.newestGood();
    const ids = [...rows.values()].flatMap((r) => [r.last_started, r.last_conclusive, r.last_check, r.last_apply]);
    const goodIds = [...good.values()].flatMap((g) => [g.apply, g.check]);
    const runs = this.runsById([...ids, ...goodIds].filter((id): id is number => id !== null));
    const hosts = this.hostCounts();
    const summary = (id: number | null): RunSummary | null => {
      const run = id === null ? undefined : runs.get(id);
      return run ? toSummary(run) : null;
    };
    const records = new Map<string, TargetRecord>();
    for (const name of names) {
      const row = rows.get(name);
      const check = row?.last_check == null ? undefined : runs.get(row.last_check);
      records.set(name, {
        name,
        lastStarted: summary(row?.last_started ?? null),
        lastConclusive: summary(row?.last_conclusive ?? null),
        lastCheck: check ? { ...toSummary(check), coverage: check.coverage ? (JSON.parse(check.coverage) as Coverage) : null } : null,
        lastApply: summary(row?.last_apply ?? null),
        lastGoodApply: summary(good.get(name)?.apply ?? null),
        lastCleanCheck: summary(good.get(name)?.check ?? null),
        suspension: row?.suspended_at ? { reason: row.suspended_reason, at: row.suspended_at, by: row.suspended_by ?? 'unknown' } : null,
        held: row?.held_revision
          ? { revision: row.held_revision, reason: row.held_reason, at: row.held_at ?? '', by: row.held_by ?? 'unknown' }
          : null,
        retry: row?.retry_revision
          ? { revision: row.retry_revision, attempt: row.retry_attempt ?? 0, nextAt: row.retry_next_at }
          : null,
        hosts: hosts.get(name) ?? noHosts,
      });
    }
    return records;
  }

  record(name: string): TargetRecord {
    return this.records([name]).get(name)!;
  }

  suspend(name: string, control: Control): void {
    this.upsert(name, { suspended_at: control.at, suspended_by: control.by, suspended_reason: control.reason });
  }

  /** Ends a suspension and a hold. */
  resume(name: string): void {
    this.upsert(name, {
      suspended_at: null,
      suspended_by: null,
      suspended_reason: null,
      held_revision: null,
      held_at: null,
      held_by: null,
      held_reason: null,
    });
  }

  hold(name: string, hold: Hold): void {
    this.upsert(name, { held_revision: hold.revision, held_at: hold.at, held_by: hold.by, held_reason: hold.reason });
  }

  setRetry(name: string, retry: RetryState | null): void {
    this.upsert(name, {
      retry_revision: retry?.revision ?? null,
      retry_attempt: retry?.attempt ?? null,
      retry_next_at: retry?.nextAt ?? null,
    });
  }

  /** Every target's recap of one host. */
  hostRows(host: string): HostRow[] {
    return prepared(this.db, `SELECT target, host, kind, run_id AS runId, ok, changed, failed, unreachable, skipped, rescued, ignored
         FROM target_hosts WHERE host = ? ORDER BY target`,
      )
      .all(host) as HostRow[];
  }

  /** Host names per target, as the record knows them (hosts seen in conclusive runs). */
  knownHosts(): Map<string, Set<string>> {
    const byTarget = new Map<string, Set<string>>();
    for (const { target, host } of prepared(this.db, `SELECT target, host FROM target_hosts`).all() as Array<{ target: string; host: string }>) {
      const hosts = byTarget.get(target) ?? new Set<string>();
      hosts.add(host);
      byTarget.set(target, hosts);
    }
    return byTarget;
  }

  commits(shas: readonly string[]): Map<string, Commit> {
    const rows = prepared(this.db, `SELECT sha, subject, author, committed_at AS committedAt FROM commits WHERE sha IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify([...new Set(shas)])) as Commit[];
    return new Map(rows.map((row) => [row.sha, row]));
  }

  /**
   * Per target, its newest clean apply and clean check. Not pointers in the targets table: retention keeps a
   * target's runs bounded, so this is one indexed pass over them (and retention keeps these two runs).
   */
  private newestGood(): Map<string, { apply: number | null; check: number | null }> {
    const rows = prepared(this.db, `SELECT target,
                MAX(CASE WHEN kind = 'apply' THEN id END) AS apply,
                MAX(CASE WHEN kind = 'check' AND changed = 0 THEN id END) AS "check"
         FROM runs WHERE status = 'succeeded' AND failed = 0 AND preview_id IS NULL GROUP BY target`,
    ).all() as Array<{ target: string; apply: number | null; check: number | null }>;
    return new Map(rows.map(({ target, apply, check }) => [target, { apply, check }]));
  }

  private runsById(ids: number[]): Map<number, RunRow> {
    if (ids.length === 0) return new Map();
    const rows = prepared(this.db, `SELECT * FROM runs WHERE id IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(ids)) as RunRow[];
    return new Map(rows.map((row) => [row.id, row]));
  }

  private hostCounts(): Map<string, HostCounts> {
    const rows = prepared(this.db, `SELECT target, COUNT(*) AS total,
                SUM(kind = 'check' AND changed > 0 AND failed = 0 AND unreachable = 0) AS drifted,
                SUM(unreachable > 0 AND failed = 0) AS unreachable,
                SUM(failed > 0) AS failed
         FROM target_hosts GROUP BY target`,
      )
      .all() as Array<HostCounts & { target: string }>;
    return new Map(rows.map(({ target, ...counts }) => [target, counts]));
  }

  private upsert(name: string, values: Record<string, string | number | null>): void {
    const keys = Object.keys(values);
    prepared(this.db, `INSERT INTO targets (name, ${keys.join(', ')}) VALUES (@name, ${keys.map((k) => `@${k}`).join(', ')})
         ON CONFLICT (name) DO UPDATE SET ${keys.map((k) => `${k} = excluded.${k}`).join(', ')}`,
      )
      .run({ name, ...values });
  }
}
