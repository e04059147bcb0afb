import { z } from 'zod';
import { modes } from '../config/index.js';
import type { Target } from './targets.js';
import { changeSchema, commitSchema, coverageSchema, failureSchema, runSummarySchema, type Commit, type RunSummary } from '../store/types.js';
import type { Control, Hold, TargetRecord } from '../store/targets.js';
import { waitReasons, type Waiting } from './decide.js';
import { targetStatuses, targetStatusOf } from './status.js';

/**
 * The fleet as the API, the CLI and the page see it. Each shape is a zod schema and its type under one name;
 * the API's route schemas (and so its OpenAPI document) are built from these.
 */

export const controlSchema = z.object({ reason: z.string().nullable(), at: z.string(), by: z.string() });

export const waitingSchema = z.object({
  reason: z.enum(waitReasons),
  detail: z.string().describe('a sentence that names what it waits on'),
  until: z.string().optional().describe('when the wait ends, when that is known'),
});

export const targetViewSchema = z.object({
  name: z.string(),
  mode: z.enum(modes),
  status: z.enum(targetStatuses).describe('from the newest conclusive run; unknown before any'),
  running: z.boolean().describe('a run of the target is queued or running'),
  lastRun: runSummarySchema.nullable().describe('the newest run that started'),
  problem: z.string().nullable().describe('the most important thing to know, when something is wrong'),
  nonIdempotentTasks: z.array(z.string()).describe('tasks the verify check after the last apply still changed'),
  coverage: coverageSchema.nullable().describe('what the newest finished check could and could not see'),
  revision: commitSchema
    .nullable()
    .describe(
      'what the target runs: the revision it is held at, else that of its newest clean apply (in detect mode, of the newer of that and its newest check that found nothing to change); null before any',
    ),
  checkedRevision: commitSchema.nullable().describe("the revision of its newest finished check, which may be ahead of `revision`; null before any"),
  lastCheckAt: z.string().nullable(),
  lastApplyAt: z.string().nullable(),
  hosts: z
    .object({ total: z.number().int(), drifted: z.number().int(), unreachable: z.number().int(), failed: z.number().int() })
    .describe('hosts as the newest conclusive run of each saw them'),
  suspended: z.boolean(),
  suspension: controlSchema.nullable().describe('set by POST /api/v1/targets/:name/suspend; kept across restarts'),
  held: controlSchema.extend({ revision: z.string() }).nullable().describe('set by a rollback; new commits do not move the target'),
  waiting: waitingSchema.nullable().describe('what holds the next apply'),
  retry: z.object({ attempt: z.number().int(), nextAt: z.string().nullable() }).nullable().describe('apply retries at this revision'),
  sharedHosts: z.array(z.string()).describe('hosts this target shares with another: their runs never overlap'),
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
    .describe('the newest revision the source accepted; a target that cannot use it says why in its problem'),
  source: z.object({ error: z.string().nullable(), lastFetchAt: z.string().nullable() }),
  config: z.object({ file: z.string(), loadedAt: z.string() }).describe('the config in force and when it was (re)loaded'),
  targets: z.array(targetViewSchema),
});
export type StatusView = z.infer<typeof statusViewSchema>;

/** What the view of one target is made of, read in bulk for all targets. */
export type TargetFacts = {
  target: Target;
  record: TargetRecord;
  running: boolean;
  /** What the record knows of the revisions the view names (subject, author); a sha alone when it knows nothing. */
  commits: ReadonlyMap<string, Commit>;
  nonIdempotentTasks: string[];
  waiting: Waiting | undefined;
  sharedHosts: string[];
  /** The revision the branch is at (a held target waits for it). */
  current: { sha: string; branch: string } | undefined;
  /** The newest tip, when this target cannot use it because it could not be prepared, and the sentence saying so. */
  brokenTip?: { sha: string; problem: string };
};

/** One target's view, from what the record and the reconciler know. Pure. */
export function targetView(facts: TargetFacts): TargetView {
  const { target, record } = facts;
  const status = targetStatusOf(record.lastConclusive);
  const lastRun = record.lastStarted;
  const waiting = holdWaiting(record.held, facts.current) ?? facts.waiting ?? null;
  const { brokenTip } = facts;
  // The broken tip's own failed run says less than the sentence naming the tip; any other failure comes first.
  const failed = status === 'failed' && record.lastConclusive?.revision !== brokenTip?.sha;
  const failure = target.problem ?? (failed ? failureOf(record.lastConclusive) : null) ?? brokenTip?.problem ?? null;
  return {
    name: target.name,
    mode: target.mode,
    status,
    running: facts.running,
    lastRun,
    // The one sentence that matters most: a failure, then a hold, a suspension, what it waits for.
    problem: failure ?? holdProblem(record.held) ?? suspensionProblem(record.suspension) ?? waiting?.detail ?? null,
    nonIdempotentTasks: facts.nonIdempotentTasks,
    coverage: record.lastCheck?.coverage ?? null,
    revision: commitOf(runningRevision(target.mode, record), facts.commits),
    checkedRevision: commitOf(record.lastCheck?.revision ?? null, facts.commits),
    lastCheckAt: record.lastCheck?.finishedAt ?? null,
    lastApplyAt: record.lastApply?.finishedAt ?? null,
    hosts: record.hosts,
    suspended: record.suspension !== null,
    suspension: record.suspension,
    held: record.held,
    waiting,
    retry: record.retry && record.retry.revision === (record.held?.revision ?? facts.current?.sha) ? { attempt: record.retry.attempt, nextAt: record.retry.nextAt } : null,
    sharedHosts: facts.sharedHosts,
  };
}

/**
 * The revision a target's hosts run (issue 17): the one it is held at (a rollback applies it at once, and no
 * other may be applied), else the newest one an apply finished cleanly. A check says nothing of what the hosts
 * run, except in detect mode, where fleetcd never applies: there a check that found nothing to change shows
 * the hosts match its revision. Null before any of these.
 */
export function runningRevision(mode: Target['mode'], record: TargetRecord): string | null {
  if (record.held) return record.held.revision;
  const apply = record.lastGoodApply;
  const check = mode === 'detect' ? record.lastCleanCheck : null;
  const newest = check && (!apply || check.id > apply.id) ? check : apply;
  return newest?.revision ?? null;
}

/** The shas of the revisions a view names, to read their commits in one query. */
export function revisionsNamed(mode: Target['mode'], record: TargetRecord): string[] {
  return [runningRevision(mode, record), record.lastCheck?.revision ?? null].filter((sha): sha is string => sha !== null);
}

function commitOf(sha: string | null, commits: ReadonlyMap<string, Commit>): Commit | null {
  if (!sha) return null;
  return commits.get(sha) ?? { sha, subject: '', author: '', committedAt: '' };
}

/** A held target waits for nothing it can reach by itself: newer revisions wait for a resume. */
function holdWaiting(held: Hold | null, current: TargetFacts['current']): Waiting | undefined {
  if (!held || !current || current.sha === held.revision) return undefined;
  return {
    reason: 'hold',
    detail: `held at ${held.revision.slice(0, 12)} by a rollback; ${current.branch} is at ${current.sha.slice(0, 12)}, applied after a resume`,
  };
}

function holdProblem(held: Hold | null): string | null {
  if (!held) return null;
  return `held at ${held.revision.slice(0, 12)} by ${held.by} at ${held.at}${held.reason ? ` (${held.reason})` : ''}; resume to follow the branch again`;
}

function suspensionProblem(suspension: Control | null): string | null {
  if (!suspension) return null;
  return `suspended by ${suspension.by} at ${suspension.at}${suspension.reason ? ` (${suspension.reason})` : ''}`;
}

/** A failed run in one sentence: its error, or which hosts failed. */
function failureOf(run: RunSummary | null): string | null {
  if (!run) return null;
  const what = `${run.kind} run #${run.id} ${run.status}`;
  if (run.error) return `${what}: ${run.error}`;
  return `${what} with ${run.summary.failed} failed task${run.summary.failed === 1 ? '' : 's'}`;
}

export const hostPageSchema = z.object({
  name: z.string(),
  targets: z
    .array(z.object({ target: z.string(), status: hostViewSchema.shape.status, runId: z.number().int(), changedTasks: z.number().int() }))
    .describe("the host's status in each target that has it, from the newest conclusive run that included it"),
  changes: z
    .array(changeSchema.extend({ runId: z.number().int(), target: z.string() }))
    .describe('its newest changes (drift found by checks, changes made by applies), newest first'),
  failures: z
    .array(failureSchema.extend({ runId: z.number().int(), target: z.string() }))
    .describe('its newest failures, newest first'),
  runs: z.array(runSummarySchema).describe('the newest runs that included it'),
});
export type HostPage = z.infer<typeof hostPageSchema>;
