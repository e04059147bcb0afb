import { createTwoFilesPatch } from 'diff';

/**
 * Ansible's diff entries as real unified diffs (hunk headers, three lines of context) made with the `diff`
 * package; a `prepared` diff (modules that make their own) is kept as Ansible wrote it. Plain text: the CLI
 * colours it, the forge comments fence it.
 */

/** One entry of a task result's `diff` as Ansible writes it; the API leaves entries unknown. */
type DiffEntry = { before?: unknown; after?: unknown; before_header?: unknown; after_header?: unknown; prepared?: unknown };

/** The lines of one diff entry; empty when it shows no change or is not an entry at all. */
export function renderDiff(raw: unknown): string[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const entry = raw as DiffEntry;
  if (typeof entry.prepared === 'string') return entry.prepared.replace(/\n$/, '').split('\n');
  const before = asText(entry.before);
  const after = asText(entry.after);
  if (before === after) return [];
  const [oldName, newName] = fileNames(entry);
  const patch = createTwoFilesPatch(oldName, newName, before, after, undefined, undefined, { context: 3 }).split('\n');
  // createTwoFilesPatch starts with an "Index:"/"====" preamble and ends with a newline: keep ---, +++ and hunks.
  const start = patch.findIndex((line) => line.startsWith('--- '));
  const lines = patch.slice(start).filter((line, i, all) => line !== '' || i < all.length - 1);
  return lines.some((line) => line.startsWith('@@')) ? lines : [];
}

/**
 * The names for the --- and +++ lines. copy and template name a temp file of the controller as the
 * "after" (…/ansible-local-…/tmpXYZ): the destination, their before_header, says more.
 */
function fileNames(entry: DiffEntry): [string, string] {
  const before = typeof entry.before_header === 'string' ? entry.before_header : undefined;
  const after = typeof entry.after_header === 'string' ? entry.after_header : undefined;
  if (after !== undefined && /ansible-local-/.test(after)) return [before ?? 'before', before ?? 'after'];
  return [before ?? 'before', after ?? 'after'];
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  return typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`;
}
