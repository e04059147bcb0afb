import { z } from 'zod';

/**
 * Vocabulary of the record. These shapes go over the API as they are, so each is a zod schema and its type
 * under one name: the API's route schemas and the OpenAPI document are built from them.
 */
export const runKinds = ['check', 'apply'] as const;
export type RunKind = (typeof runKinds)[number];

export const triggers = [
  'startup',
  'schedule',
  'commit',
  'api',
  'cli',
  'retry',
  'window',
  'resume',
  'rollback',
  'webhook',
  'preview',
] as const;
export type Trigger = (typeof triggers)[number];

export const runStatuses = ['queued', 'running', 'succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled'] as const;
export type RunStatus = (typeof runStatuses)[number];

/** Finished runs that say something about the hosts: their recap counts, cancelled and interrupted ones do not. */
export const conclusiveStatuses = ['succeeded', 'failed', 'timed-out'] as const satisfies readonly RunStatus[];

export const countsSchema = z.object({
  ok: z.number().int(),
  changed: z.number().int(),
  failed: z.number().int(),
  unreachable: z.number().int(),
  skipped: z.number().int(),
});
export type Counts = z.infer<typeof countsSchema>;

export const hostRecapSchema = countsSchema.extend({ rescued: z.number().int(), ignored: z.number().int() });
export type HostRecap = z.infer<typeof hostRecapSchema>;

const isoTime = () => z.string().describe('ISO 8601 UTC');

export const runSummarySchema = z.object({
  id: z.number().int(),
  target: z.string(),
  kind: z.enum(runKinds),
  trigger: z.enum(triggers),
  revision: z.string().describe('full 40-hex commit sha'),
  status: z.enum(runStatuses),
  limit: z.string().nullable().describe('the --limit the run was given'),
  queuedAt: isoTime(),
  startedAt: isoTime().nullable(),
  finishedAt: isoTime().nullable(),
  exitCode: z.number().int().nullable(),
  error: z.string().nullable(),
  followedBy: z.number().int().nullable().describe('the run this one caused: check → apply → verify check'),
  requestedBy: z.string().nullable().describe("who asked: the API token's name, cli:<user>, or the author of the commit that caused it"),
  previewId: z.number().int().nullable().describe('the preview this run checked for (never counted toward the target\'s status)'),
  summary: countsSchema.extend({ hosts: z.number().int() }),
});
export type RunSummary = z.infer<typeof runSummarySchema>;

export const taskStatuses = ['ok', 'changed', 'failed', 'skipped', 'unreachable'] as const;
export type TaskStatus = (typeof taskStatuses)[number];

/** One host's result of one task, as the runner hands it to the store. */
export const taskResultSchema = z.object({
  host: z.string(),
  task: z.string(),
  module: z.string().nullable(),
  path: z.string().nullable().describe('file:line of the task'),
  status: z.enum(taskStatuses),
  durationMs: z.number().int().nullable(),
  message: z.string().nullable(),
  diff: z.array(z.unknown()).nullable().describe("Ansible's diff entries (before/after/headers, or prepared)"),
  truncated: z.boolean(),
  censored: z.boolean().describe('no_log: the result is hidden and its diff never stored'),
  ignored: z.boolean(),
  rescued: z.boolean().describe("a failure that a block's rescue section handled"),
  unverified: z.string().nullable().describe('why this result says nothing about drift (check mode could not see it)'),
});
export type TaskResult = z.infer<typeof taskResultSchema>;

/** How much of a check run could actually be evaluated in check mode. */
export const coverageSchema = z.object({
  tasks: z.number().int(),
  verified: z.number().int(),
  unverified: z.array(z.object({ task: z.string(), reason: z.string() })),
  text: z.string().describe('"drift checked on 41 of 44 tasks; 3 unverifiable: …"'),
});
export type Coverage = z.infer<typeof coverageSchema>;

export const changeSchema = z.object({
  host: z.string(),
  task: z.string(),
  module: z.string().nullable(),
  diff: z.array(z.unknown()).nullable(),
});
export type Change = z.infer<typeof changeSchema>;

export const failureSchema = z.object({ host: z.string(), task: z.string(), message: z.string().nullable() });
export type Failure = z.infer<typeof failureSchema>;

export const runDetailSchema = runSummarySchema.extend({
  hosts: z.array(hostRecapSchema.extend({ host: z.string() })),
  changes: z.array(changeSchema),
  failures: z.array(failureSchema),
  coverage: coverageSchema.nullable(),
  warnings: z.array(z.string()).describe("Ansible's [WARNING] lines"),
  malformedEvents: z.number().int().describe('lines on the callback pipe that fit no event and were skipped (the first is logged)'),
});
export type RunDetail = z.infer<typeof runDetailSchema>;

/** What ends a run: written once, by the store's `finish`. */
export type RunResult = {
  status: Exclude<RunStatus, 'queued' | 'running'>;
  exitCode: number | null;
  error: string | null;
  hosts: ReadonlyMap<string, HostRecap>;
  warnings?: readonly string[];
  /** Lines of the event pipe that fit no event's schema, skipped. */
  malformedEvents?: number;
};

/** A commit a run used, as people recognise it. */
export const commitSchema = z.object({
  sha: z.string(),
  subject: z.string(),
  author: z.string(),
  committedAt: isoTime(),
});
export type Commit = z.infer<typeof commitSchema>;
