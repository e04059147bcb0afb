import { z } from 'zod';
import { taskStatuses, type HostRecap, type TaskResult, type TaskStatus } from '../store/types.js';

/**
 * What the `fleetcd_events` callback plugin (ansible/callback_plugins) writes, one JSON object a line: a schema
 * per event kind. Only the fields the daemon reads are declared (the plugin may send more, and they are
 * dropped); a line that fits none of them is malformed. The pipe is writable by anything the playbook runs (a
 * filter plugin of the repository, a task writing to the inherited fd), so its lines are input, not trusted.
 */
const text = z.string();
const nullableText = z.string().nullable();

const resultFields = {
  uuid: text,
  host: text,
  task: text,
  action: nullableText,
  path: nullableText,
  duration: z.number().nullable(),
  ignored: z.boolean(),
  rescued: z.boolean().optional(),
  msg: nullableText,
  skip_reason: nullableText,
  diff: z.array(z.unknown()).nullable(),
  censored: z.boolean(),
  stderr: text.optional(),
};

const countsSchema = z.object({
  ok: z.number().int().nonnegative(),
  changed: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  unreachable: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  rescued: z.number().int().nonnegative(),
  ignored: z.number().int().nonnegative(),
});

const resultSchemas = taskStatuses.map((status) => z.object({ event: z.literal(status), ...resultFields }));

/**
 * The plugin's own fallback when it could not describe a result or encode an event (see `_result_event` and
 * `_emit`): a known shape that carries nothing to record.
 */
const undescribedSchema = z
  .object({ event: text, build_error: text.optional(), encoding_error: text.optional() })
  .refine((value) => value.build_error !== undefined || value.encoding_error !== undefined)
  .transform((value) => ({ event: 'undescribed' as const, kind: value.event, error: (value.build_error ?? value.encoding_error)! }));

const knownEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('playbook_start'), playbook: nullableText }),
  z.object({ event: z.literal('play_start'), play: text }),
  z.object({ event: z.literal('task_start'), task: text, action: nullableText, path: nullableText, uuid: text, check_mode: z.unknown() }),
  ...(resultSchemas as [(typeof resultSchemas)[number], ...(typeof resultSchemas)[number][]]),
  z.object({ event: z.literal('stats'), hosts: z.record(z.string(), countsSchema) }),
]);

export const ansibleEventSchema = z.union([knownEventSchema, undescribedSchema]);
export type AnsibleEvent = z.infer<typeof ansibleEventSchema>;
type ResultEvent = Extract<AnsibleEvent, { uuid: string; host: string; censored: boolean }>;

/** Parses one line from the plugin against the schema; a line that does not fit is undefined, never thrown. */
export function parseEventLine(line: string): AnsibleEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = ansibleEventSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

/** The first `bytes` bytes of a line, for a log line about it (a malformed line may be megabytes of anything). */
export function headOf(line: string | Buffer, bytes = 200): string {
  const buffer = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  return buffer.subarray(0, bytes).toString('utf8');
}

const resultStatuses = new Set<string>(taskStatuses);

const checkModeSkip = /would have run if not in check mode|does not support check mode|check mode/i;

/**
 * Why a result of a check run says nothing about drift, or null when it is a real prediction: tasks that
 * check mode skips (command/shell without creates/removes, modules without check-mode support) and tasks
 * marked `check_mode: false`, which really run during the check.
 */
export function unverifiedReason(event: { event: string; skip_reason?: string | null; msg?: string | null }, runsForReal: boolean): string | null {
  if (runsForReal) return 'check_mode: false (runs for real during the check; its result is not a prediction)';
  if (event.event !== 'skipped') return null;
  const why = event.skip_reason ?? event.msg ?? '';
  return checkModeSkip.test(why) ? why : null;
}

/**
 * A per-task result worth recording, or undefined for events that are not one.
 * `realTasks` holds the uuids of tasks that run for real in a check run (check_mode: false).
 */
export function toTaskResult(event: AnsibleEvent, check = false, realTasks: ReadonlySet<string> = new Set()): TaskResult | undefined {
  if (!isResult(event)) return undefined;
  const diffs = event.censored ? null : event.diff && event.diff.length > 0 ? event.diff : null;
  return {
    host: event.host,
    task: event.task,
    module: event.action,
    path: event.path,
    status: event.event as TaskStatus,
    durationMs: typeof event.duration === 'number' ? Math.round(event.duration * 1000) : null,
    message: event.censored ? null : messageOfResult(event),
    diff: diffs,
    truncated: Boolean(diffs?.some((d) => typeof d === 'object' && d !== null && 'truncated' in d)),
    censored: event.censored,
    ignored: event.ignored,
    rescued: event.rescued === true,
    unverified: check ? unverifiedReason(event, realTasks.has(event.uuid)) : null,
  };
}

function isResult(event: AnsibleEvent): event is ResultEvent {
  return resultStatuses.has(event.event) && 'uuid' in event;
}

function messageOfResult(event: ResultEvent): string | null {
  const parts = [event.msg ?? event.skip_reason, event.stderr].filter((p): p is string => Boolean(p));
  return parts.length > 0 ? parts.join('\n') : null;
}

/** The recap from a `stats` event, in the store's shape. */
export function toHostRecaps(event: Extract<AnsibleEvent, { event: 'stats' }>): Map<string, HostRecap> {
  const recaps = new Map<string, HostRecap>();
  for (const [host, s] of Object.entries(event.hosts)) {
    recaps.set(host, {
      ok: s.ok,
      changed: s.changed,
      failed: s.failures,
      unreachable: s.unreachable,
      skipped: s.skipped,
      rescued: s.rescued,
      ignored: s.ignored,
    });
  }
  return recaps;
}
