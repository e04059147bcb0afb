import type { PreviewView } from '../../api/schemas.js';
import { previewSummary } from '../../forge/summary.js';
import type { Change } from '../../store/types.js';
import { diffLine, renderDiff } from './diff.js';
import type { Look } from './run.js';
import { plainLook } from './run.js';
import { statusWord, type Style } from './style.js';
import { ago, duration } from './time.js';

/**
 * A preview: its head line and summary, the policy gates, then per target what the revision would change
 * (unified diffs), the drift already there (apart), unverified tasks and failures.
 */
export function renderPreview(view: PreviewView, look: Look = plainLook()): string {
  const { style } = look;
  const at = view.revision ? ` at ${view.revision.slice(0, 12)}` : '';
  const lines = [`${style.bold(`preview #${view.id}`)} of ${view.ref}${at}: ${statusWord(view.status, style)}`, `  ${whenLine(view, look)}`];
  if (view.pullRequest) lines.push(`  pull request ${view.pullRequest.repository}#${view.pullRequest.number}${view.pullRequest.url ? ` ${view.pullRequest.url}` : ''}`);
  if (view.status !== 'queued' && view.status !== 'running') lines.push(`  ${previewSummary(view)}`);
  if (view.error) lines.push(`  ${style.red('error:')} ${view.error}`);
  for (const gate of view.gates) {
    const result = gate.ok ? style.green('passed') : style.red(`failed${gate.exitCode === null ? '' : ` (exit ${gate.exitCode})`}`);
    lines.push(`  gate ${gate.gate} (${gate.command.join(' ')}): ${result}`);
    if (!gate.ok) lines.push(...gate.output.replace(/\n$/, '').split('\n').filter(Boolean).map((l) => `      ${l}`));
  }
  for (const target of view.targets) lines.push('', ...targetLines(target, style));
  return lines.join('\n');
}

function targetLines(target: PreviewView['targets'][number], style: Style): string[] {
  const lines = [`${style.bold(target.target)}: check run #${target.runId} ${statusWord(target.status, style)}`];
  if (target.error) lines.push(`  ${style.red('error:')} ${target.error}`);
  if (target.status === 'succeeded' && target.changes.length === 0) lines.push('  nothing would change');
  lines.push(...changeLines(target.changes, style.yellow('would change:'), style));
  lines.push(...changeLines(target.existingDrift, style.dim('drifted already:'), style));
  for (const u of target.unverified) lines.push(`  ${style.yellow('unverified:')} ${u.task}: ${u.reason}`);
  for (const f of target.failures) lines.push(`  ${style.red('failed:')} ${f.host} | ${f.task}: ${f.message ?? ''}`);
  return lines;
}

function changeLines(changes: readonly Change[], label: string, style: Style): string[] {
  return changes.flatMap((change) => [
    `  ${label} ${change.host} | ${change.task} (${change.module ?? '?'})`,
    ...(change.diff ?? []).flatMap((diff) => renderDiff(diff).map((l) => `      ${diffLine(l, style)}`)),
  ]);
}

/** "requested by cli:alice, started 3m ago, took 12s", "superseded by <sha>". */
function whenLine(view: PreviewView, look: Look): string {
  const parts = view.requestedBy ? [`requested by ${view.requestedBy}`] : [];
  parts.push(`created ${ago(view.createdAt, look.now)}`);
  if (view.finishedAt) parts.push(`took ${duration(Date.parse(view.finishedAt) - Date.parse(view.createdAt))}`);
  if (view.supersededBy) parts.push(`superseded by ${view.supersededBy}`);
  return parts.join(', ');
}

/** The verb's exit code: 1 a preview that failed or was cancelled, 2 changes beyond the drift already there, else 0. */
export function previewExit(view: PreviewView): 0 | 1 | 2 {
  if (view.status !== 'succeeded') return 1;
  return view.targets.some((t) => t.changes.length > 0) ? 2 : 0;
}
