import type { HostPage } from '../../api/schemas.js';
import { diffLine, renderDiff } from './diff.js';
import { plainLook, renderRuns, type Look } from './run.js';
import { statusWord } from './style.js';
import { table } from './table.js';

/** One host across targets: its status in each, its newest changes with their diffs, failures and runs. */
export function renderHost(host: HostPage, look: Look = plainLook()): string {
  const { style } = look;
  const lines = [style.bold(`host ${host.name}`)];
  const rows = host.targets.map((t) => [t.target, statusWord(t.status, style), String(t.changedTasks), `#${t.runId}`]);
  lines.push(...table(['TARGET', 'STATUS', 'CHANGED TASKS', 'RUN'], rows, style, '  '));
  if (host.changes.length > 0) {
    lines.push('', 'changes, newest first:');
    for (const change of host.changes) {
      lines.push(`  #${change.runId} ${change.target} | ${change.task} (${change.module ?? '?'})`);
      for (const diff of change.diff ?? []) lines.push(...renderDiff(diff).map((l) => `      ${diffLine(l, style)}`));
    }
  }
  if (host.failures.length > 0) {
    lines.push('', 'failures, newest first:');
    for (const f of host.failures) lines.push(`  #${f.runId} ${f.target} | ${f.task}: ${f.message ?? ''}`);
  }
  lines.push('', 'runs:', renderRuns(host.runs, look, '  '));
  return lines.join('\n');
}
