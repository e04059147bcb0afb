import { renderDiff } from '../unified-diff.js';
import type { PreviewView } from '../reconcile/previews.js';
import type { Change } from '../store/types.js';
import { previewSummary } from './summary.js';

/**
 * Pure: the pull-request comment holding a preview's plan, in the Markdown the three forges render alike.
 * GitHub refuses a comment over 65,536 characters, so the comment is kept under `commentLimit`: diffs are cut
 * (with a note saying so) before anything else, and past that whole parts are left out, never half a fence.
 */

export const commentLimit = 60_000;

/** Items listed per section at most; the rest are counted. */
const itemsPerList = 100;
/** Room kept for the closing note. */
const tailRoom = 400;
/** Room kept per fenced block for its note ("… lines cut", "left out"). */
const blockRoom = 100;

/** Text kept whole, or a fenced block (a diff, a gate's output) that may be cut. */
type Part = { kind: 'text'; text: string } | { kind: 'block'; lang: string; lines: string[] };

/** The comment for an ended preview: the summary and a link, then per target its plan. */
export function commentBody(view: PreviewView, link: string, limit = commentLimit): string {
  const parts = planParts(view, link);
  // Each block keeps room for the note that says it was cut or left out; the rest is shared, in order.
  const fixed = parts.reduce((size, part) => size + (part.kind === 'text' ? part.text.length : blockRoom), 0);
  let shared = Math.max(0, limit - fixed - tailRoom);
  let out = '';
  for (const [i, part] of parts.entries()) {
    let text: string;
    if (part.kind === 'block') {
      text = fenced(part.lang, part.lines, shared + blockRoom);
      shared = Math.max(0, shared + blockRoom - text.length);
    } else text = part.text;
    if (out.length + text.length > limit - tailRoom) {
      const left = parts.length - i;
      return `${out}\n_… ${left} more part${left === 1 ? '' : 's'} of the plan left out to stay under the forge's comment size limit: [the whole plan](${link})._\n`;
    }
    out += text;
  }
  return out;
}

function planParts(view: PreviewView, link: string): Part[] {
  const text = (value: string): Part => ({ kind: 'text', text: value });
  const sha = view.revision ? ` at ${code(view.revision.slice(0, 12))}` : '';
  const parts: Part[] = [
    text(`### fleetcd preview #${view.id}: ${view.status}\n\n`),
    text(`${code(view.ref)}${sha}: ${escapeText(previewSummary(view))} · [open the preview](${link})\n`),
  ];
  if (view.error && view.targets.length === 0) parts.push(text(`\n${escapeText(view.error)}\n`));
  for (const gate of view.gates) {
    const head = `\n**Gate ${code(gate.gate)}** (${code(gate.command.join(' '))}): ${gate.ok ? 'passed' : `failed${gate.exitCode === null ? '' : ` with exit code ${gate.exitCode}`}`}\n`;
    parts.push(text(head));
    if (!gate.ok && gate.output.trim() !== '') parts.push({ kind: 'block', lang: '', lines: gate.output.replace(/\n$/, '').split('\n') });
  }
  for (const target of view.targets) {
    parts.push(text(`\n#### ${code(target.target)}: check run #${target.runId} ${target.status}\n`));
    if (target.error) parts.push(text(`\n${escapeText(target.error)}\n`));
    parts.push(...changeParts(target.changes, `**Would change** (${target.changes.length})`, target.status === 'succeeded' ? 'Nothing would change.' : ''));
    if (target.existingDrift.length > 0) {
      parts.push(text(`\n<details><summary>Drifted already, at the revision in use (${target.existingDrift.length})</summary>\n`));
      parts.push(...changeParts(target.existingDrift, '', ''));
      parts.push(text('\n</details>\n'));
    }
    if (target.unverified.length > 0) {
      parts.push(text(`\n**Unverified in check mode** (${target.unverified.length})\n\n`));
      parts.push(...listed(target.unverified.map((u) => `- ${code(u.task)}: ${escapeText(u.reason)}\n`)));
    }
    if (target.failures.length > 0) {
      parts.push(text(`\n**Failed** (${target.failures.length})\n\n`));
      parts.push(...listed(target.failures.map((f) => `- ${code(f.host)} · ${code(f.task)}: ${code(f.message ?? 'failed', 500)}\n`)));
    }
  }
  return parts;
}

/** Each change as a list item and its diffs, fenced. */
function changeParts(changes: readonly Change[], heading: string, none: string): Part[] {
  if (changes.length === 0) return none ? [{ kind: 'text', text: `\n${none}\n` }] : [];
  const parts: Part[] = heading ? [{ kind: 'text', text: `\n${heading}\n` }] : [];
  for (const change of changes.slice(0, itemsPerList)) {
    parts.push({ kind: 'text', text: `\n- ${code(change.host)} · ${code(change.task)}${change.module ? ` (${code(change.module)})` : ''}\n` });
    const lines = (change.diff ?? []).flatMap((entry) => renderDiff(entry));
    if (lines.length > 0) parts.push({ kind: 'block', lang: 'diff', lines });
  }
  if (changes.length > itemsPerList) parts.push({ kind: 'text', text: `\n- … and ${changes.length - itemsPerList} more\n` });
  return parts;
}

function listed(items: string[]): Part[] {
  const parts: Part[] = items.slice(0, itemsPerList).map((item) => ({ kind: 'text', text: item }));
  if (items.length > itemsPerList) parts.push({ kind: 'text', text: `- … and ${items.length - itemsPerList} more\n` });
  return parts;
}

/** A fenced block of the lines that fit in `budget` characters, with a note of what was cut. */
function fenced(lang: string, lines: readonly string[], budget: number): string {
  const fence = '`'.repeat(Math.max(3, longestRun(lines.join('\n'), '`') + 1));
  const whole = `\n${fence}${lang}\n${lines.join('\n')}\n${fence}\n`;
  if (whole.length <= budget) return whole;
  const note = (n: number): string => `_${n} more line${n === 1 ? '' : 's'} cut to stay under the forge's comment size limit._\n`;
  const room = budget - fence.length * 2 - 16 - note(lines.length).length;
  let kept = 0;
  let size = 0;
  while (kept < lines.length && size + lines[kept]!.length + 1 <= room) size += lines[kept++]!.length + 1;
  // A block cut before its first lines of content (a diff's ---, +++ and @@) says nothing: leave it out.
  if (kept < Math.min(lines.length, 4)) return `\n_${lines.length} lines left out to stay under the forge's comment size limit._\n`;
  return `\n${fence}${lang}\n${lines.slice(0, kept).join('\n')}\n${fence}\n${note(lines.length - kept)}`;
}

/**
 * Text as an inline code span on one line: Markdown, HTML and @mentions in task names and messages are shown
 * as written, never rendered or notified.
 */
function code(value: string, limit = 200): string {
  let line = value.replace(/\s+/g, ' ').trim();
  if (line.length > limit) line = `${line.slice(0, limit - 1)}…`;
  const ticks = '`'.repeat(longestRun(line, '`') + 1);
  const pad = line.startsWith('`') || line.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${line}${pad}${ticks}`;
}

/** Plain text with the characters that would start Markdown, HTML or a mention escaped. */
function escapeText(value: string): string {
  return value.replace(/[\\`*_[\]<>#@|~]/g, (c) => `\\${c}`);
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
