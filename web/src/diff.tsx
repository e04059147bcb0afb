import { structuredPatch } from 'diff';
import type { Change } from './api.js';
import { links } from './hooks.js';

/**
 * Ansible's diffs as unified diffs: `before`/`after` pairs through the `diff` package (context and hunk
 * headers), `prepared` text as Ansible made it. Lines keep their +/- prefix, so colour only adds.
 */

/** One entry of a task result's `diff`, as Ansible writes it (the schema leaves entries unknown). */
type DiffEntry = { before?: unknown; after?: unknown; before_header?: unknown; after_header?: unknown; prepared?: unknown };

const asText = (value: unknown): string | undefined =>
  value === undefined || value === null ? undefined : typeof value === 'string' ? value : `${JSON.stringify(value, null, 2)}\n`;

/** The lines of a unified diff for one entry; empty when it says nothing. */
export function unifiedLines(raw: unknown): string[] {
  if (!raw || typeof raw !== 'object') return typeof raw === 'string' ? raw.split('\n') : [];
  const entry = raw as DiffEntry;
  if (typeof entry.prepared === 'string') return entry.prepared.replace(/\n$/, '').split('\n');
  const before = asText(entry.before);
  const after = asText(entry.after);
  if (before === undefined && after === undefined) return [];
  const oldName = typeof entry.before_header === 'string' ? entry.before_header : 'before';
  const newName = typeof entry.after_header === 'string' ? entry.after_header : 'after';
  const patch = structuredPatch(oldName, newName, before ?? '', after ?? '', undefined, undefined, { context: 3 });
  if (patch.hunks.length === 0) return [];
  const lines = [`--- ${oldName}`, `+++ ${newName}`];
  for (const hunk of patch.hunks) {
    lines.push(`@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`, ...hunk.lines);
  }
  return lines;
}

function lineClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'd-file';
  if (line.startsWith('@@')) return 'd-hunk';
  if (line.startsWith('+')) return 'd-add';
  if (line.startsWith('-')) return 'd-del';
  if (line.startsWith('\\')) return 'd-meta';
  return 'd-ctx';
}

export function DiffBlock({ diff }: { diff: unknown[] | null }) {
  const entries = (diff ?? []).map(unifiedLines).filter((lines) => lines.length > 0);
  if (entries.length === 0) {
    return <p class="muted">No diff: the module reported a change without one (or does not support --diff).</p>;
  }
  return (
    <>
      {entries.map((lines, i) => (
        <pre class="diff" key={i}>
          <code>
            {lines.map((line, j) => (
              <span class={lineClass(line)} key={j}>
                {line}
                {'\n'}
              </span>
            ))}
          </code>
        </pre>
      ))}
    </>
  );
}

/** Changes grouped by host, one collapsed `<details>` per task: the drift is one click away, not in the way. */
export function ChangeList({ changes, runLinks = false }: { changes: Array<Change & { runId?: number; target?: string }>; runLinks?: boolean }) {
  if (changes.length === 0) return <p class="muted">No changes.</p>;
  const byHost = new Map<string, typeof changes>();
  for (const change of changes) byHost.set(change.host, [...(byHost.get(change.host) ?? []), change]);
  return (
    <div class="changes">
      {[...byHost].sort(([a], [b]) => a.localeCompare(b)).map(([host, list]) => (
        <section key={host} class="host-changes" aria-label={`changes on ${host}`}>
          <h3>
            <a href={links.host(host)}>{host}</a> <span class="muted">· {list.length === 1 ? '1 task' : `${list.length} tasks`}</span>
          </h3>
          {list.map((change, i) => (
            <details key={i} class="change">
              <summary>
                <span class="task">{change.task}</span>
                {change.module && <span class="muted"> ({change.module})</span>}
                {runLinks && change.runId !== undefined && (
                  <span class="muted">
                    {' '}
                    · {change.target} run #{change.runId}
                  </span>
                )}
              </summary>
              {runLinks && change.runId !== undefined && (
                <p>
                  <a href={links.run(change.runId)}>Open run #{change.runId}</a>
                </p>
              )}
              <DiffBlock diff={change.diff} />
            </details>
          ))}
        </section>
      ))}
    </div>
  );
}
