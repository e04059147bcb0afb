import type { ComponentChildren } from 'preact';
import type { ApiError, RunSummary, TargetStatus } from './api.js';
import { durationSeconds, formatSeconds, relative, runStatusLook, shortSha, targetStatusLook } from './format.js';
import { links, useNow } from './hooks.js';

/** Pieces every view uses: times, status badges, messages, the runs table. */

export function Time({ at, fallback = 'never' }: { at: string | null | undefined; fallback?: string }) {
  const now = useNow();
  if (!at) return <span class="muted">{fallback}</span>;
  return (
    <time dateTime={at} title={at}>
      {relative(at, now)}
    </time>
  );
}

export function TargetBadge({ status }: { status: TargetStatus }) {
  const look = targetStatusLook[status];
  return (
    <span class={`badge tone-${status}`} data-status={status}>
      <span aria-hidden="true" class="icon">
        {look.icon}
      </span>{' '}
      {look.label}
    </span>
  );
}

export function RunBadge({ status }: { status: RunSummary['status'] }) {
  const look = runStatusLook[status];
  return (
    <span class={`badge tone-${look.tone}`} data-status={status}>
      <span aria-hidden="true" class="icon">
        {look.icon}
      </span>{' '}
      {status}
    </span>
  );
}

export function Sha({ sha }: { sha: string | null | undefined }) {
  if (!sha) return <span class="muted">—</span>;
  return (
    <code class="sha" title={sha}>
      {shortSha(sha)}
    </code>
  );
}

/** A failed load or action, said in words; `role=alert` so a screen reader hears it once. */
export function ErrorNote({ error, children }: { error: ApiError | string | undefined; children?: ComponentChildren }) {
  if (!error) return null;
  return (
    <p class="note error" role="alert">
      <span aria-hidden="true">⚠ </span>
      {typeof error === 'string' ? error : error.message}
      {children}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" aria-busy="true">
      Loading {what}…
    </p>
  );
}

/**
 * A table that scrolls sideways on its own when the window is narrow (or zoomed), not the page; focusable so
 * the keyboard can scroll it too.
 */
export function TableBox({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-box" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}

export function RunTable({ runs, caption, showTarget = false }: { runs: RunSummary[]; caption: string; showTarget?: boolean }) {
  const now = useNow();
  if (runs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <TableBox label={caption}>
      <table class="runs">
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Run</th>
            {showTarget && <th scope="col">Target</th>}
            <th scope="col">Kind</th>
            <th scope="col">Status</th>
            <th scope="col">Trigger</th>
            <th scope="col">Revision</th>
            <th scope="col">Started</th>
            <th scope="col" class="num">
              Duration
            </th>
            <th scope="col" class="num">
              Changed
            </th>
            <th scope="col" class="num">
              Failed
            </th>
            <th scope="col" class="num">
              Unreachable
            </th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id}>
              <th scope="row">
                <a href={links.run(run.id)}>#{run.id}</a>
              </th>
              {showTarget && (
                <td>
                  <a href={links.target(run.target)}>{run.target}</a>
                </td>
              )}
              <td>{run.kind}</td>
              <td>
                <RunBadge status={run.status} />
              </td>
              <td>{run.trigger}</td>
              <td>
                <Sha sha={run.revision} />
              </td>
              <td>
                <Time at={run.startedAt} fallback="not yet" />
              </td>
              <td class="num">{formatSeconds(durationSeconds(run, now))}</td>
              <td class="num">{run.summary.changed}</td>
              <td class="num">{run.summary.failed}</td>
              <td class="num">{run.summary.unreachable}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

/** Failed tasks with Ansible's message: a run's, or one target's of a preview. */
export function FailureTable({ failures, label }: { failures: ReadonlyArray<{ host: string; task: string; message: string | null }>; label: string }) {
  return (
    <TableBox label={label}>
      <table>
        <thead>
          <tr>
            <th scope="col">Host</th>
            <th scope="col">Task</th>
            <th scope="col">Ansible's message</th>
          </tr>
        </thead>
        <tbody>
          {failures.map((f, i) => (
            <tr key={i}>
              <td>
                <a href={links.host(f.host)}>{f.host}</a>
              </td>
              <td>{f.task}</td>
              <td>
                <pre class="message">{f.message ?? '—'}</pre>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

/** Tasks check mode could not verify, with the reason: a target's newest check, or a preview's. */
export function UnverifiedTable({ tasks, label }: { tasks: ReadonlyArray<{ task: string; reason: string }>; label: string }) {
  return (
    <TableBox label={label}>
      <table>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Why check mode cannot see its drift</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((item, i) => (
            <tr key={i}>
              <td>{item.task}</td>
              <td>{item.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}
