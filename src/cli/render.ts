import type { RunDetail, StatusView } from '../api/schemas.js';

/** Text renderings of API objects for the terminal. Pure, so the formats are unit-tested. */

export function renderStatus(status: StatusView): string {
  const lines: string[] = [];
  lines.push(
    status.revision
      ? `revision ${status.revision.sha.slice(0, 12)} (${status.revision.branch}) fetched ${status.revision.fetchedAt}`
      : 'revision: none fetched yet',
  );
  if (status.source.error) lines.push(`source error: ${status.source.error}`);
  const rows = status.targets.map((t) => [
    t.name,
    t.mode,
    t.status,
    t.running ? 'yes' : 'no',
    t.lastRun ? `#${t.lastRun.id} ${t.lastRun.kind} ${t.lastRun.status}` : '-',
    t.problem ?? '',
  ]);
  lines.push(...table(['TARGET', 'MODE', 'STATUS', 'RUNNING', 'LAST RUN', 'PROBLEM'], rows));
  return lines.join('\n');
}

export function renderRun(run: RunDetail): string {
  const s = run.summary;
  const lines = [
    `run #${run.id} ${run.kind} of ${run.target} at ${run.revision.slice(0, 12)}: ${run.status}` +
      ` (hosts ${s.hosts}, ok ${s.ok}, changed ${s.changed}, failed ${s.failed}, unreachable ${s.unreachable}, skipped ${s.skipped})`,
  ];
  if (run.error) lines.push(`  error: ${run.error}`);
  for (const warning of run.warnings) lines.push(`  warning: ${warning}`);
  for (const h of run.hosts) {
    lines.push(`  ${h.host}: ok=${h.ok} changed=${h.changed} failed=${h.failed} unreachable=${h.unreachable} skipped=${h.skipped}`);
  }
  for (const change of run.changes) {
    lines.push(`  ${run.kind === 'check' ? 'drift' : 'changed'}: ${change.host} | ${change.task} (${change.module ?? '?'})`);
    for (const diff of change.diff ?? []) lines.push(...renderDiff(diff).map((l) => `      ${l}`));
  }
  for (const f of run.failures) lines.push(`  failed: ${f.host} | ${f.task}: ${f.message ?? ''}`);
  return lines.join('\n');
}

/** One Ansible diff entry as unified-style lines: only the lines between the common head and tail. */
export function renderDiff(diff: unknown): string[] {
  if (typeof diff !== 'object' || diff === null) return [];
  const d = diff as Record<string, unknown>;
  if (typeof d.prepared === 'string') return d.prepared.split('\n');
  const before = asText(d.before);
  const after = asText(d.after);
  if (before === after) return [];
  const a = before.split('\n');
  const b = after.split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const beforeHeader = String(d.before_header ?? 'before');
  // copy/template name the controller's temp file as the "after": the destination says more.
  const afterHeader = /ansible-local-/.test(String(d.after_header)) ? String(d.before_header ?? 'after') : String(d.after_header ?? 'after');
  return [
    `--- ${beforeHeader}`,
    `+++ ${afterHeader}`,
    ...a.slice(head, a.length - tail).map((l) => `-${l}`),
    ...b.slice(head, b.length - tail).map((l) => `+${l}`),
  ];
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
