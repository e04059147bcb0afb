import type { RunDetail, RunSummary } from '../../api/schemas.js';
import { diffLine, renderDiff } from './diff.js';
import { plain, statusWord, type Style } from './style.js';
import { table } from './table.js';
import { ago, runTime } from './time.js';

/** How a rendering looks and when "now" is (for ages): pure functions of their inputs, tested as such. */
export type Look = { style: Style; now: Date };

/** No colour, ages from now (or from `now`): the default of every rendering. */
export const plainLook = (now = new Date()): Look => ({ style: plain, now });

/** A run may name who asked for it (`requestedBy`), in versions of the API that record it. */
type MaybeRequested = { requestedBy?: string | null };

/** One run: its head line, when and why, its hosts, its drift or changes as unified diffs, its failures. */
export function renderRun(run: RunDetail, look: Look = plainLook()): string {
  const { style } = look;
  const s = run.summary;
  const lines = [
    `${style.bold(`run #${run.id}`)} ${run.kind} of ${run.target} at ${run.revision.slice(0, 12)}: ${statusWord(run.status, style)}` +
      ` (hosts ${s.hosts}, ok ${s.ok}, changed ${s.changed}, failed ${s.failed}, unreachable ${s.unreachable}, skipped ${s.skipped})`,
    `  ${whenLine(run, look)}`,
  ];
  if (run.error) lines.push(`  ${style.red('error:')} ${run.error}`);
  for (const warning of run.warnings) lines.push(`  ${style.yellow('warning:')} ${warning}`);
  if (run.coverage && run.coverage.unverified.length > 0) lines.push(`  coverage: ${run.coverage.text}`);
  if (run.hosts.length > 0) {
    const rows = run.hosts.map((h) => [h.host, String(h.ok), String(h.changed), String(h.failed), String(h.unreachable), String(h.skipped)]);
    lines.push(...table(['HOST', 'OK', 'CHANGED', 'FAILED', 'UNREACHABLE', 'SKIPPED'], rows, style, '  '));
  }
  const label = run.kind === 'check' ? 'drift' : 'changed';
  for (const change of run.changes) {
    lines.push(`  ${style.yellow(`${label}:`)} ${change.host} | ${change.task} (${change.module ?? '?'})`);
    for (const diff of change.diff ?? []) lines.push(...renderDiff(diff).map((l) => `      ${diffLine(l, style)}`));
  }
  for (const f of run.failures) lines.push(`  ${style.red('failed:')} ${f.host} | ${f.task}: ${f.message ?? ''}`);
  return lines.join('\n');
}

/** "trigger api, requested by alice, started 3m ago, took 12s, limit web1, followed by run #43". */
function whenLine(run: RunSummary & MaybeRequested, look: Look): string {
  const parts = [`trigger ${run.trigger}`];
  if (run.requestedBy) parts.push(`requested by ${run.requestedBy}`);
  const took = runTime(run, look.now);
  if (!run.startedAt) parts.push(`queued ${ago(run.queuedAt, look.now)}`);
  else parts.push(`started ${ago(run.startedAt, look.now)}`, `${run.finishedAt ? 'took' : 'running for'} ${took}`);
  if (run.limit) parts.push(`limit ${run.limit}`);
  if (run.followedBy !== null) parts.push(`followed by run #${run.followedBy}`);
  return parts.join(', ');
}

/** Runs as a table, newest first as the API lists them. */
export function renderRuns(runs: readonly RunSummary[], look: Look = plainLook(), indent = ''): string {
  const { style, now } = look;
  if (runs.length === 0) return `${indent}no runs`;
  const rows = runs.map((r) => [
    String(r.id),
    r.target,
    r.kind,
    r.trigger,
    statusWord(r.status, style),
    r.revision.slice(0, 12),
    r.startedAt ? ago(r.startedAt, now) : `queued ${ago(r.queuedAt, now)}`,
    runTime(r, now) ?? '-',
    String(r.summary.hosts),
    String(r.summary.changed),
    String(r.summary.failed),
    String(r.summary.unreachable),
  ]);
  return table(['RUN', 'TARGET', 'KIND', 'TRIGGER', 'STATUS', 'REVISION', 'STARTED', 'TOOK', 'HOSTS', 'CHANGED', 'FAILED', 'UNREACHABLE'], rows, style, indent).join('\n');
}

/** A short mention of a run: "#42 check succeeded 3m ago". */
export function runMention(run: RunSummary, look: Look): string {
  const when = run.startedAt ? ago(run.startedAt, look.now) : `queued ${ago(run.queuedAt, look.now)}`;
  return `#${run.id} ${run.kind} ${statusWord(run.status, look.style)} ${when}`;
}
