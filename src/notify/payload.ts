import type { Config, NotificationEvent } from '../config/index.js';
import type { TargetStatus } from '../reconcile/status.js';
import type { RunSummary } from '../store/types.js';
import type { Notice, Receiver } from './types.js';

/** Pure: the notice of an event and the bodies each format posts. */

/**
 * Where the status page is, for links: `api.publicUrl`, else the address the API listens on (an IPv6
 * address in brackets). A daemon listening on 0.0.0.0 or behind a proxy needs `publicUrl` for useful links.
 */
export function pageBase(api: Pick<Config['api'], 'host' | 'port' | 'publicUrl'> & { tls?: unknown }): string {
  if (api.publicUrl) return api.publicUrl.replace(/\/+$/, '');
  const host = api.host.includes(':') ? `[${api.host}]` : api.host;
  return `${api.tls ? 'https' : 'http'}://${host}:${api.port}`;
}

/**
 * What the notifier knows of the target right after the run, for the one-line text and the problem: the
 * target's problem as the API shows it, its drifted hosts, the tasks the run changed (or would change) and the
 * tasks known to be non-idempotent at its revision.
 */
export type TargetFacts = { problem: string | null; driftedHosts: number; changedTasks?: readonly string[]; nonIdempotentTasks?: readonly string[] };

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The text after the target's name, by event. */
function runHeadline(event: NotificationEvent, run: RunSummary, facts: TargetFacts): string {
  const ref = `(${run.kind} run #${run.id})`;
  switch (event) {
    case 'drift': {
      const what = facts.driftedHosts > 0 ? plural(facts.driftedHosts, 'host') : plural(run.summary.changed, 'task');
      return `drifted: ${what} would change ${ref}`;
    }
    case 'failed':
      return `failed: ${facts.problem ?? run.error ?? plural(run.summary.failed, 'task') + ' failed'} ${ref}`;
    case 'recovered':
      return `is back in sync ${ref}`;
    case 'applied':
      return `applied ${plural(run.summary.changed, 'change')} on ${plural(run.summary.hosts, 'host')} ${ref}`;
    case 'source-error':
      return `source failing ${ref}`;
  }
}

/** Up to three names, then how many more. */
function names(list: readonly string[]): string {
  const more = list.length > 3 ? ` and ${list.length - 3} more` : '';
  return `${list.slice(0, 3).join(', ')}${more}`;
}

/**
 * The one-line problem every body carries: the target's own (a failure, a hold, a suspension, a wait), else
 * what the event found. Null only when nothing is wrong: a plain recovery, an apply to a target in sync.
 */
export function problemOf(event: NotificationEvent, run: RunSummary, facts: TargetFacts): string | null {
  if (facts.problem) return facts.problem;
  const changed = facts.changedTasks ?? [];
  const nonIdempotent = facts.nonIdempotentTasks ?? [];
  switch (event) {
    case 'drift':
      return changed.length > 0 ? `drift in ${names(changed)}` : `${plural(run.summary.changed, 'task')} would change`;
    case 'failed':
      return run.error ?? `${plural(run.summary.failed, 'task')} failed`;
    case 'recovered':
      return nonIdempotent.length > 0 ? `in sync but for ${plural(nonIdempotent.length, 'task')} known to be non-idempotent: ${names(nonIdempotent)}` : null;
    default:
      return null;
  }
}

/** The notice of one event a finished run fired. */
export function runNotice(input: { event: NotificationEvent; run: RunSummary; status: TargetStatus; facts: TargetFacts; base: string; at: string }): Notice {
  const { event, run, status, facts, base, at } = input;
  return {
    event,
    at,
    target: run.target,
    status,
    problem: problemOf(event, run, facts),
    run: { id: run.id, kind: run.kind, revision: run.revision, summary: run.summary },
    url: `${base}/#/runs/${run.id}`,
    text: `${run.target} ${runHeadline(event, run, facts)}`,
  };
}

/** The notice of the source starting to fail: no target and no run, a link to the source view. */
export function sourceNotice(input: { error: string | null; base: string; at: string }): Notice {
  const problem = input.error ?? 'the fetch failed';
  return { event: 'source-error', at: input.at, target: null, status: null, problem, run: null, url: `${input.base}/#/source`, text: `source failing: ${problem}` };
}

/** The `json` format: the notice as data (its people's text stays out: the shape is the contract). */
export function jsonPayload(notice: Notice): Record<string, unknown> {
  const { event, at, target, status, problem, run, url } = notice;
  return { event, at, target, status, problem, run, url };
}

/** Slack treats these three as markup in `text`; anything else goes through as written. */
const slackEscape = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/**
 * The `slack` format: an incoming webhook's `{text}`, the target's name in bold, the problem after a dash
 * (unless the text already says it) and a link to the run.
 */
export function slackPayload(notice: Notice): { text: string } {
  const { target, text, url, problem } = notice;
  // Run texts start with the target's name (runNotice), which is the part to embolden.
  const line = target && text.startsWith(target) ? `*${slackEscape(target)}*${slackEscape(text.slice(target.length))}` : slackEscape(text);
  const why = problem && !text.includes(problem) ? ` — ${slackEscape(problem)}` : '';
  return { text: `${line}${why} <${url}|open>` };
}

/** The request body a receiver gets, in its format. */
export function bodyFor(format: Receiver['format'], notice: Notice): string {
  return JSON.stringify(format === 'slack' ? slackPayload(notice) : jsonPayload(notice));
}
