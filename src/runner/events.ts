import type { HostRecap, TaskResult, TaskStatus } from '../store/types.js';

/**
 * What the `fleetcd_events` callback plugin (ansible/callback_plugins) writes, one JSON object a line.
 * Only the fields the daemon reads are typed; the plugin may send more.
 */
export type AnsibleEvent =
  | { event: 'playbook_start'; playbook: string }
  | { event: 'play_start'; play: string }
  | { event: 'task_start'; task: string; action: string; path: string | null; uuid: string; check_mode: unknown }
  | ({ event: TaskStatus } & ResultFields)
  | { event: 'stats'; hosts: Record<string, StatsCounts> };

type ResultFields = {
  uuid: string;
  host: string;
  task: string;
  action: string | null;
  path: string | null;
  duration: number | null;
  ignored: boolean;
  rescued?: boolean;
  msg: string | null;
  skip_reason: string | null;
  diff: unknown[] | null;
  censored: boolean;
  stderr?: string;
};

type StatsCounts = {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
  rescued: number;
  ignored: number;
};

const resultStatuses = new Set<string>(['ok', 'changed', 'failed', 'skipped', 'unreachable']);

/** Parses one line from the plugin; anything that is not an event we know is dropped, never thrown. */
export function parseEventLine(line: string): AnsibleEvent | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as { event?: unknown };
    return typeof value.event === 'string' ? (value as AnsibleEvent) : undefined;
  } catch {
    return undefined;
  }
}

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
  if (!resultStatuses.has(event.event) || !('host' in event)) return undefined;
  // The plugin sends a bare event when it could not describe a result; there is nothing to record.
  if (typeof event.host !== 'string' || typeof event.task !== 'string') return undefined;
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

function messageOfResult(event: ResultFields): string | null {
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
