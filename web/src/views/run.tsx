import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, readLog, type RunDetail } from '../api.js';
import { ChangeList } from '../diff.js';
import { durationSeconds, formatSeconds, isLive, plural } from '../format.js';
import { links, useNow, usePoll } from '../hooks.js';
import { ErrorNote, FailureTable, Loading, RunBadge, Sha, TableBox, Time } from '../ui.js';
import { Heading, OutcomeNote, useAction } from './common.js';

/** One run: summary, per-host recap, changes with diffs, failures, warnings, and its log, live while it runs. */
export function RunView({ id }: { id: number }) {
  const [live, setLive] = useState(true);
  const run = usePoll(`run:${id}`, (signal) => api.run(id, signal), live ? 1000 : null);
  const stillLive = run.data ? isLive(run.data.status) : !run.error;
  useEffect(() => setLive(stillLive), [stillLive]);
  return (
    <>
      <Heading title={`Run #${id}`}>
        Run #{id} {run.data && <RunBadge status={run.data.status} />}
      </Heading>
      <ErrorNote error={run.error} />
      {!run.data && !run.error && <Loading what={`run ${id}`} />}
      {run.data && <RunBody run={run.data} onChange={run.refresh} />}
      <Log id={id} live={live} />
    </>
  );
}

function RunBody({ run, onChange }: { run: RunDetail; onChange: () => void }) {
  const now = useNow();
  const { busy, outcome, run: act } = useAction();
  const cancel = () =>
    act(async () => {
      await api.cancel(run.id);
      onChange();
      return `Run #${run.id} is being cancelled.`;
    });
  return (
    <>
      <p>
        {run.kind === 'check' ? 'Check (--check --diff)' : 'Apply'} of target <a href={links.target(run.target)}>{run.target}</a>,
        triggered by {run.trigger}.
        {run.previewId !== null && (
          <>
            {' '}
            Part of <a href={links.preview(run.previewId)}>preview #{run.previewId}</a>: never counted toward the target's status.
          </>
        )}
        {run.followedBy !== null && (
          <>
            {' '}
            Followed by <a href={links.run(run.followedBy)}>run #{run.followedBy}</a>.
          </>
        )}
      </p>
      {isLive(run.status) && (
        <div class="buttons">
          <button type="button" disabled={busy} onClick={cancel}>
            Cancel run
          </button>
        </div>
      )}
      <OutcomeNote outcome={outcome} />
      {run.error && (
        <p class="note error">
          <span aria-hidden="true">⚠ </span>
          {run.error}
        </p>
      )}
      <dl class="facts wide">
        <dt>Revision</dt>
        <dd>
          <Sha sha={run.revision} />
        </dd>
        <dt>Queued</dt>
        <dd>
          <Time at={run.queuedAt} />
        </dd>
        <dt>Started</dt>
        <dd>
          <Time at={run.startedAt} fallback="not yet" />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time at={run.finishedAt} fallback="not yet" />
        </dd>
        <dt>Duration</dt>
        <dd>{formatSeconds(durationSeconds(run, now))}</dd>
        <dt>Exit code</dt>
        <dd>{run.exitCode ?? '—'}</dd>
        {run.limit && (
          <>
            <dt>Limit</dt>
            <dd>
              <code>{run.limit}</code>
            </dd>
          </>
        )}
        <dt>Tasks</dt>
        <dd>
          {plural(run.summary.hosts, 'host')}: {run.summary.ok} ok, {run.summary.changed} changed, {run.summary.failed} failed, {run.summary.unreachable}{' '}
          unreachable, {run.summary.skipped} skipped
        </dd>
      </dl>
      {run.coverage && <p>{run.coverage.text}</p>}
      <Recap run={run} />
      <section aria-labelledby="changes-title">
        <h2 id="changes-title">{run.kind === 'check' ? 'Changes it would make' : 'Changes made'}</h2>
        <ChangeList changes={run.changes} />
      </section>
      <Failures run={run} />
      {run.warnings.length > 0 && (
        <section aria-labelledby="warnings-title">
          <h2 id="warnings-title">Warnings</h2>
          <ul class="warnings">
            {run.warnings.map((w, i) => (
              <li key={i}>{w}</li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}

const recapColumns = ['ok', 'changed', 'failed', 'unreachable', 'skipped', 'rescued', 'ignored'] as const;

function Recap({ run }: { run: RunDetail }) {
  if (run.hosts.length === 0) return null;
  return (
    <section aria-labelledby="recap-title">
      <h2 id="recap-title">Hosts</h2>
      <TableBox label="per-host recap">
        <table>
          <thead>
            <tr>
              <th scope="col">Host</th>
              {recapColumns.map((c) => (
                <th scope="col" class="num" key={c}>
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {run.hosts.map((h) => (
              <tr key={h.host}>
                <th scope="row">
                  <a href={links.host(h.host)}>{h.host}</a>
                </th>
                {recapColumns.map((c) => (
                  <td class={`num${h[c] > 0 && (c === 'failed' || c === 'unreachable') ? ' bad' : ''}`} key={c}>
                    {h[c]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </TableBox>
    </section>
  );
}

function Failures({ run }: { run: RunDetail }) {
  if (run.failures.length === 0) return null;
  return (
    <section aria-labelledby="failures-title">
      <h2 id="failures-title">Failures</h2>
      <FailureTable failures={run.failures} label="failed tasks" />
    </section>
  );
}

/**
 * Ansible's output, read from `?offset=` on: every second while the run is queued or running and the tab is
 * visible, once more when it ends. Bytes are decoded as a stream, so a character split between reads survives.
 */
function useLog(id: number, live: boolean): { text: string; error: ApiError | undefined } {
  const [text, setText] = useState('');
  const [error, setError] = useState<ApiError | undefined>(undefined);
  const cursor = useRef({ id, offset: 0, decoder: new TextDecoder() });
  useEffect(() => {
    if (cursor.current.id !== id) {
      cursor.current = { id, offset: 0, decoder: new TextDecoder() };
      setText('');
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const tick = async (): Promise<void> => {
      clearTimeout(timer);
      try {
        const { bytes, size } = await readLog(id, cursor.current.offset, controller.signal);
        if (controller.signal.aborted) return;
        cursor.current.offset = size;
        const chunk = cursor.current.decoder.decode(bytes, { stream: live });
        if (chunk) setText((t) => t + chunk);
        setError(undefined);
      } catch (e) {
        if (controller.signal.aborted) return;
        setError(e instanceof ApiError ? e : new ApiError(0, String(e)));
      }
      if (live && document.visibilityState === 'visible') timer = setTimeout(tick, 1000);
    };
    const onVisibility = (): void => {
      if (document.visibilityState === 'visible') void tick();
      else clearTimeout(timer);
    };
    void tick();
    if (live) document.addEventListener('visibilitychange', onVisibility);
    return () => {
      controller.abort();
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [id, live]);
  return { text, error };
}

function Log({ id, live }: { id: number; live: boolean }) {
  const { text, error } = useLog(id, live);
  const box = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    if (stick.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [text]);
  const onScroll = (): void => {
    const el = box.current;
    if (el) stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 24;
  };
  return (
    <section aria-labelledby="log-title">
      <h2 id="log-title">
        Log {live && <span class="badge tone-running">following live</span>}
      </h2>
      <ErrorNote error={error} />
      {text ? (
        // The log scrolls on its own: tabIndex lets the keyboard reach it.
        <pre class="log" ref={box} onScroll={onScroll} tabIndex={0} aria-label={`log of run ${id}`}>
          {text}
        </pre>
      ) : (
        <p class="muted">{live ? 'No output yet.' : 'This run wrote no log.'}</p>
      )}
    </section>
  );
}
