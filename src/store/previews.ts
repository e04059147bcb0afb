import { z } from 'zod';
import { prepared, type Db } from './db.js';
import type { Change } from './types.js';

export const previewStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type PreviewStatus = (typeof previewStatuses)[number];

/** The pull or merge request a preview came from, when a webhook started it. */
export const pullRequestSchema = z.object({
  provider: z.string(),
  repository: z.string().describe('owner/name, or the project id on GitLab'),
  number: z.number().int(),
  url: z.string().nullable(),
  headSha: z.string(),
});
export type PullRequest = z.infer<typeof pullRequestSchema>;

export type PreviewRecord = {
  id: number;
  ref: string;
  revision: string | null;
  status: PreviewStatus;
  targets: string[] | null;
  requestedBy: string | null;
  createdAt: string;
  finishedAt: string | null;
  error: string | null;
  supersededBy: string | null;
  pullRequest: PullRequest | null;
};

type Row = {
  id: number;
  ref: string;
  revision: string | null;
  status: PreviewStatus;
  targets: string | null;
  requested_by: string | null;
  created_at: string;
  finished_at: string | null;
  error: string | null;
  superseded_by: string | null;
  pull_request: string | null;
};

function toRecord(row: Row): PreviewRecord {
  return {
    id: row.id,
    ref: row.ref,
    revision: row.revision,
    status: row.status,
    targets: row.targets === null ? null : (JSON.parse(row.targets) as string[]),
    requestedBy: row.requested_by,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
    error: row.error,
    supersededBy: row.superseded_by,
    pullRequest: row.pull_request === null ? null : (JSON.parse(row.pull_request) as PullRequest),
  };
}

/** A target's plan in a preview: what the revision would change, and what had drifted already. */
export type PreviewPlan = { changes: Change[]; existingDrift: Change[] };

/** The `previews` table. A preview's runs are rows of `runs` with its id. */
export class PreviewStore {
  constructor(private readonly db: Db) {}

  create(input: { ref: string; targets?: readonly string[]; requestedBy?: string; pullRequest?: PullRequest }): number {
    const result = prepared(this.db, `INSERT INTO previews (ref, status, targets, requested_by, created_at, pull_request) VALUES (?, 'queued', ?, ?, ?, ?)`)
      .run(
        input.ref,
        input.targets ? JSON.stringify(input.targets) : null,
        input.requestedBy ?? null,
        new Date().toISOString(),
        input.pullRequest ? JSON.stringify(input.pullRequest) : null,
      );
    return Number(result.lastInsertRowid);
  }

  started(id: number, revision: string): void {
    prepared(this.db, `UPDATE previews SET status = 'running', revision = ? WHERE id = ? AND status = 'queued'`).run(revision, id);
  }

  /** Ends a preview (once: an ended preview is never rewritten). */
  finish(id: number, status: Exclude<PreviewStatus, 'queued' | 'running'>, error: string | null, supersededBy?: string): boolean {
    return (
      prepared(this.db, `UPDATE previews SET status = ?, error = ?, superseded_by = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
        )
        .run(status, error, supersededBy ?? null, new Date().toISOString(), id).changes === 1
    );
  }

  get(id: number): PreviewRecord | undefined {
    const row = prepared(this.db, `SELECT * FROM previews WHERE id = ?`).get(id) as Row | undefined;
    return row && toRecord(row);
  }

  list(limit: number): PreviewRecord[] {
    return (prepared(this.db, `SELECT * FROM previews ORDER BY id DESC LIMIT ?`).all(limit) as Row[]).map(toRecord);
  }

  /** Previews of a pull request that have not ended, to be superseded by a newer push. */
  openFor(pullRequest: Pick<PullRequest, 'provider' | 'repository' | 'number'>): PreviewRecord[] {
    return (
      prepared(this.db, `SELECT * FROM previews WHERE status IN ('queued', 'running') AND json_extract(pull_request, '$.provider') = ?
             AND json_extract(pull_request, '$.repository') = ? AND json_extract(pull_request, '$.number') = ?`,
        )
        .all(pullRequest.provider, pullRequest.repository, pullRequest.number) as Row[]
    ).map(toRecord);
  }

  /** Keeps one target's plan as it stands when the preview ends; a plan already kept is never rewritten. */
  freezePlan(previewId: number, runId: number, plan: PreviewPlan): void {
    prepared(this.db, `INSERT OR IGNORE INTO preview_plans (run_id, preview_id, changes, existing_drift) VALUES (?, ?, ?, ?)`)
      .run(runId, previewId, JSON.stringify(plan.changes), JSON.stringify(plan.existingDrift));
  }

  /** The plans kept for a preview's runs, by run id (none while it is going). */
  plans(previewId: number): Map<number, PreviewPlan> {
    const rows = prepared(this.db, `SELECT run_id, changes, existing_drift FROM preview_plans WHERE preview_id = ?`).all(previewId) as Array<{
      run_id: number;
      changes: string;
      existing_drift: string;
    }>;
    return new Map(rows.map((row) => [row.run_id, { changes: JSON.parse(row.changes) as Change[], existingDrift: JSON.parse(row.existing_drift) as Change[] }]));
  }

  /** At start-up: previews a dead daemon left going did not finish. Their ids. */
  markInterrupted(): number[] {
    const rows = prepared(
      this.db,
      `UPDATE previews SET status = 'cancelled', error = 'fleetcd stopped before this preview finished', finished_at = ?
       WHERE status IN ('queued', 'running') RETURNING id`,
    ).all(new Date().toISOString()) as Array<{ id: number }>;
    return rows.map((row) => row.id);
  }
}

export const gateResultSchema = z.object({
  gate: z.string(),
  command: z.array(z.string()),
  ok: z.boolean(),
  exitCode: z.number().int().nullable(),
  output: z.string().describe("the last lines the gate printed"),
  ranAt: z.string(),
});
export type GateResult = z.infer<typeof gateResultSchema>;

/** The `gate_results` table: a gate's result is kept with the revision it ran at. */
export class GateResults {
  constructor(private readonly db: Db) {}

  get(revision: string, gate: string, command: readonly string[]): GateResult | undefined {
    const row = prepared(this.db, `SELECT * FROM gate_results WHERE revision = ? AND gate = ? AND command = ?`)
      .get(revision, gate, JSON.stringify(command)) as GateRow | undefined;
    return row && toResult(row);
  }

  /** Every gate result kept for a revision, whichever targets' gates they were (the config can change since). */
  at(revision: string): GateResult[] {
    return (prepared(this.db, `SELECT * FROM gate_results WHERE revision = ? ORDER BY gate, command`).all(revision) as GateRow[]).map(toResult);
  }

  record(revision: string, result: GateResult): void {
    prepared(this.db, `INSERT OR REPLACE INTO gate_results (revision, gate, command, exit_code, ok, output, ran_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(revision, result.gate, JSON.stringify(result.command), result.exitCode, result.ok ? 1 : 0, result.output, result.ranAt);
  }
}

type GateRow = { gate: string; command: string; ok: number; exit_code: number | null; output: string | null; ran_at: string };

function toResult(row: GateRow): GateResult {
  return { gate: row.gate, command: JSON.parse(row.command) as string[], ok: row.ok === 1, exitCode: row.exit_code, output: row.output ?? '', ranAt: row.ran_at };
}
