import { renderDiff } from '../../src/unified-diff.js';
import type { Change } from './api.js';
import { links } from './hooks.js';

/**
 * The lines of a unified diff for one entry, made exactly as the CLI and the forge comments make them (one
 * shared module: headers name the destination, not the controller's temp file); empty when it says nothing.
 */
export function unifiedLines(raw: unknown): string[] {
  if (typeof raw === 'string') return raw.split('\n');
  return renderDiff(raw);
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

/**
 * Changes grouped by host, one collapsed `<details>` per task: the drift is one click away, not in the way.
 * `level` is the host headings' level, one below the heading the list sits under.
 */
export function ChangeList({
  changes,
  runLinks = false,
  level = 3,
  empty = 'No changes.',
  label = 'changes on',
}: {
  changes: Array<Change & { runId?: number; target?: string }>;
  runLinks?: boolean;
  level?: 3 | 4 | 5;
  empty?: string;
  label?: string;
}) {
  if (changes.length === 0) return <p class="muted">{empty}</p>;
  const HostHeading = `h${level}` as 'h3';
  const byHost = new Map<string, typeof changes>();
  for (const change of changes) byHost.set(change.host, [...(byHost.get(change.host) ?? []), change]);
  return (
    <div class="changes">
      {[...byHost].sort(([a], [b]) => a.localeCompare(b)).map(([host, list]) => (
        <section key={host} class="host-changes" aria-label={`${label} ${host}`}>
          <HostHeading>
            <a href={links.host(host)}>{host}</a> <span class="muted">· {list.length === 1 ? '1 task' : `${list.length} tasks`}</span>
          </HostHeading>
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
