import { z } from 'zod';
import { modes } from '../config/index.js';
import type { Target } from './targets.js';
import { commitSchema, coverageSchema, runSummarySchema, type Commit, type RunSummary } from '../store/types.js';
import type { TargetRecord } from '../store/targets.js';
import { targetStatuses, targetStatusOf } from './status.js';

/**
 * The fleet as the API, the CLI and the page see it. Each shape is a zod schema and its type under one name;
 * the API's route schemas (and so its OpenAPI document) are built from these.
 */

export const targetViewSchema = z.object({
  name: z.string(),
  mode: z.enum(modes),
  status: z.enum(targetStatuses).describe('from the newest conclusive run; unknown before any'),
  running: z.boolean().describe('a run of the target is queued or running'),
  lastRun: runSummarySchema.nullable().describe('the newest run that started'),
  problem: z.string().nullable().describe('the most important thing to know, when something is wrong'),
  nonIdempotentTasks: z.array(z.string()).describe('tasks the verify check after the last apply still changed'),
  coverage: coverageSchema.nullable().describe('what the newest finished check could and could not see'),
  revision: commitSchema.nullable().describe('the revision of the newest run'),
  lastCheckAt: z.string().nullable(),
  lastApplyAt: z.string().nullable(),
  hosts: z
    .object({ total: z.number().int(), drifted: z.number().int(), unreachable: z.number().int(), failed: z.number().int() })
    .describe('hosts as the newest conclusive run of each saw them'),
});
export type TargetView = z.infer<typeof targetViewSchema>;

export const hostViewSchema = z.object({
  name: z.string(),
  status: z.enum(['in-sync', 'drifted', 'failed', 'unreachable']),
  changedTasks: z.number().int(),
});

export const targetDetailSchema = targetViewSchema.extend({ hosts: z.array(hostViewSchema) });
export type TargetDetail = z.infer<typeof targetDetailSchema>;

export const statusViewSchema = z.object({
  revision: z
    .object({ sha: z.string(), branch: z.string(), fetchedAt: z.string(), subject: z.string() })
    .nullable()
    .describe('the revision in use'),
  source: z.object({ error: z.string().nullable(), lastFetchAt: z.string().nullable() }),
  targets: z.array(targetViewSchema),
});
export type StatusView = z.infer<typeof statusViewSchema>;

/** What the view of one target is made of, read in bulk for all targets. */
export type TargetFacts = {
  target: Target;
  record: TargetRecord;
  running: boolean;
  commit: Commit | undefined;
  nonIdempotentTasks: string[];
};

/** One target's view, from what the record and the reconciler know. Pure. */
export function targetView(facts: TargetFacts): TargetView {
  const { target, record } = facts;
  const status = targetStatusOf(record.lastConclusive);
  const lastRun = record.lastStarted;
  return {
    name: target.name,
    mode: target.mode,
    status,
    running: facts.running,
    lastRun,
    problem: target.problem ?? (status === 'failed' ? failureOf(record.lastConclusive) : null),
    nonIdempotentTasks: facts.nonIdempotentTasks,
    coverage: record.lastCheck?.coverage ?? null,
    revision: facts.commit ?? (lastRun ? { sha: lastRun.revision, subject: '', author: '', committedAt: '' } : null),
    lastCheckAt: record.lastCheck?.finishedAt ?? null,
    lastApplyAt: record.lastApply?.finishedAt ?? null,
    hosts: record.hosts,
  };
}

/** A failed run in one sentence: its error, or which hosts failed. */
function failureOf(run: RunSummary | null): string | null {
  if (!run) return null;
  const what = `${run.kind} run #${run.id} ${run.status}`;
  if (run.error) return `${what}: ${run.error}`;
  return `${what} with ${run.summary.failed} failed task${run.summary.failed === 1 ? '' : 's'}`;
}
