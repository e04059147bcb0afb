import { z } from 'zod';
import { hostPageSchema, statusViewSchema, targetDetailSchema } from '../reconcile/views.js';
import { sourceViewSchema } from '../source/index.js';
import { runDetailSchema, runSummarySchema, taskResultSchema } from '../store/types.js';

/**
 * The API's shapes: every route's params, query string, body and responses. The routes are declared with
 * these (fastify-type-provider-zod), the OpenAPI document is generated from them, and the CLI and the page
 * import the types they infer. Nobody writes a response type by hand.
 */

/** Path and query values arrive as text; these read them and say what they must be. */
const positiveId = (what = 'a positive integer') =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, { error: `must be ${what}` })
    .transform(Number);

export const pageLimit = z
  .string()
  .regex(/^[0-9]{1,4}$/, { error: 'must be an integer from 1 to 500' })
  .transform(Number)
  .refine((n) => n >= 1 && n <= 500, { error: 'must be an integer from 1 to 500' })
  .optional()
  .transform((n) => n ?? 50)
  .describe('1–500, default 50');

export const idParams = z.object({ id: positiveId() });
export const nameParams = z.object({ name: z.string().min(1) });

export const errorSchema = z.object({ error: z.string().describe('what was wrong, naming the field or the thing') });
export type ApiError = z.infer<typeof errorSchema>;

/** The error answers every route may give. */
export const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

export const runsQuery = z.object({
  target: z.string().optional().transform((t) => t || undefined),
  limit: pageLimit,
  before: positiveId('a run id').optional().describe('a run id: runs older than it'),
});

export const auditQuery = z.object({
  limit: pageLimit,
  before: positiveId('an audit entry id').optional().describe('an entry id: entries older than it'),
});

export const runListSchema = z.object({ runs: z.array(runSummarySchema) });
export type RunList = z.infer<typeof runListSchema>;

export const eventsQuery = z.object({
  after: positiveId('a cursor from an earlier page').optional().describe('the `next` of the previous page'),
  limit: pageLimit,
});

export const eventPageSchema = z.object({
  events: z.array(taskResultSchema.extend({ id: z.number().int() })),
  next: z.number().int().nullable().describe('the cursor of the next page, or null at the end'),
});

export const logQuery = z.object({
  offset: z
    .string()
    .regex(/^[0-9]{1,15}$/, { error: 'must be a byte offset (an integer ≥ 0)' })
    .transform(Number)
    .optional()
    .describe('bytes to skip: the size of what was already read (response header x-log-size)'),
});

export const sourceQuery = z.object({ limit: pageLimit });

export const reconcileBodySchema = z
  .strictObject({
    targets: z
      .array(z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }), {
        error: 'must be an array of target names',
      })
      .optional()
      .describe('target names; all targets when absent'),
    mode: z
      .enum(['check', 'apply'], { error: 'must be "check" or "apply"' })
      .optional()
      .describe('check never applies; apply applies whatever the target mode; absent follows the mode'),
    force: z
      .boolean({ error: 'must be true or false' })
      .optional()
      .describe('apply now, through apply windows, dependencies and retry backoff'),
  })
  .nullish()
  .transform((body) => body ?? {});
export type ReconcileBody = z.input<typeof reconcileBodySchema>;

export const queuedRunsSchema = z.object({
  runs: z.array(z.object({ id: z.number().int(), target: z.string() })).describe('per target, the run that executes first'),
});
export type QueuedRuns = z.infer<typeof queuedRunsSchema>;

export const suspendBodySchema = z
  .strictObject({ reason: z.string({ error: 'must be a string' }).max(500, { error: 'must be at most 500 characters' }).optional() })
  .nullish()
  .transform((body) => body ?? {});

export const rollbackBodySchema = z.strictObject({
  revision: z
    .string({ error: 'must be a commit sha' })
    .regex(/^[0-9a-f]{7,40}$/, { error: 'must be a commit sha (7 to 40 lowercase hex digits)' })
    .describe('a revision the source accepted before (GET /api/v1/source lists them)'),
  reason: z.string({ error: 'must be a string' }).max(500, { error: 'must be at most 500 characters' }).optional(),
});

const targetName = z
  .string({ error: 'must be a target name' })
  .min(1, { error: 'must be a target name' })
  .max(200, { error: 'must be at most 200 characters' });

export const compareQuery = z.object({
  from: targetName.describe('the target whose revision is compared (upstream, say staging)'),
  to: targetName.describe('the target it is compared with (downstream, say production)'),
});

export const cancelSchema = z.object({ id: z.number().int(), cancelling: z.literal(true) });

export const webhookAnswerSchema = z.object({
  provider: z.string(),
  event: z.string().nullable(),
  ref: z.string().nullable(),
  after: z.string().nullable(),
  pong: z.literal(true).optional(),
  ignored: z.literal(true).optional(),
  reason: z.string().optional(),
  fetching: z.literal(true).optional(),
});

export { comparisonSchema } from '../reconcile/compare.js';
export type { Comparison } from '../reconcile/compare.js';
export { hostPageSchema, runDetailSchema, runSummarySchema, sourceViewSchema, statusViewSchema, targetDetailSchema };
export type { RunDetail, RunSummary, TaskResult } from '../store/types.js';
export type { HostPage, StatusView, TargetDetail, TargetView } from '../reconcile/views.js';
export type { SourceView } from '../source/index.js';
export type { PreviewSummary, PreviewView } from '../reconcile/previews.js';
