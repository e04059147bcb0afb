import { useState } from 'preact/hooks';
import { api, type RunSummary, type TargetPage } from '../api.js';
import { RunChart } from '../chart.js';
import { ChangeList } from '../diff.js';
import { links, usePoll } from '../hooks.js';
import { ErrorNote, Loading, RunTable, Sha, TableBox, TargetBadge, Time, UnverifiedTable } from '../ui.js';
import { Heading, OutcomeNote, useAction } from './common.js';
import { CheckingNote } from './revisions.js';
import { suspendedIcon } from '../format.js';

const conclusive = new Set<RunSummary['status']>(['succeeded', 'failed', 'timed-out']);

/** One target: its hosts, the drift its newest check saw, what check mode could not verify, its runs, actions. */
export function TargetView({ name }: { name: string }) {
  const target = usePoll(`target:${name}`, (signal) => api.target(name, signal), 1000);
  const runs = usePoll(`runs:${name}`, (signal) => api.runs({ target: name, limit: 50 }, signal), 1000);
  const list = runs.data?.runs ?? [];
  // A preview's check is of another revision: it says nothing of the target's drift.
  const check = list.find((run) => run.kind === 'check' && run.trigger !== 'preview' && conclusive.has(run.status));
  const drift = usePoll(`drift:${check?.id}`, (signal) => (check ? api.run(check.id, signal) : Promise.resolve(null)), null);
  const refresh = (): void => {
    target.refresh();
    runs.refresh();
  };
  return (
    <>
      <Heading title={name}>
        <span class="muted">Target</span> {name}
      </Heading>
      <p>
        <a href={links.fleet()}>← Fleet</a>
      </p>
      <ErrorNote error={target.error} />
      {!target.data && !target.error && <Loading what={`target ${name}`} />}
      {target.data && (
        <>
          <Overview target={target.data} />
          <Actions target={target.data} onDone={refresh} />
          <Hosts target={target.data} />
          <section aria-labelledby="drift-title">
            <h2 id="drift-title">Drift</h2>
            {!check ? (
              <p class="muted">No finished check yet.</p>
            ) : (
              <>
                <p>
                  As check <a href={links.run(check.id)}>#{check.id}</a> saw it <Time at={check.finishedAt} />, at revision{' '}
                  <Sha sha={check.revision} />. Each task opens to its diff.
                </p>
                <ErrorNote error={drift.error} />
                {drift.data &&
                  (drift.data.changes.length > 0 ? <ChangeList changes={drift.data.changes} /> : <p>No drift: it found nothing to change.</p>)}
              </>
            )}
          </section>
          <Coverage target={target.data} />
        </>
      )}
      <section aria-labelledby="history-title">
        <h2 id="history-title">Run history</h2>
        <ErrorNote error={runs.error} />
        {runs.data ? (
          <>
            <RunChart runs={list} />
            <RunTable runs={list} caption={`the last ${list.length} runs of ${name}, newest first`} />
          </>
        ) : (
          !runs.error && <Loading what="runs" />
        )}
      </section>
    </>
  );
}

function Overview({ target }: { target: TargetPage }) {
  return (
    <div class="overview">
      <p class="tile-status">
        <TargetBadge status={target.status} />
        <span class="mode">mode {target.mode}</span>
        {target.suspended && <span class="badge tone-suspended">{suspendedIcon} suspended</span>}
        {target.running && (
          <span class="badge tone-running">
            <span aria-hidden="true">▶ </span>running
          </span>
        )}
        {target.lastRun && (
          <span>
            last run <a href={links.run(target.lastRun.id)}>#{target.lastRun.id}</a> ({target.lastRun.kind}, {target.lastRun.status})
          </span>
        )}
      </p>
      {target.suspension && (
        <p>
          Suspended <Time at={target.suspension.at} />
          {target.suspension.by && ` by ${target.suspension.by}`}
          {target.suspension.reason && `: ${target.suspension.reason}`}
        </p>
      )}
      {target.held && (
        <p>
          Held at <Sha sha={target.held.revision} /> <Time at={target.held.at} />
          {target.held.by && ` by ${target.held.by}`}
          {target.held.reason && `: ${target.held.reason}`}
        </p>
      )}
      {target.waiting && (
        <p class="waiting">
          waiting for {target.waiting.detail}
          {target.waiting.until && (
            <>
              {' '}
              (until <Time at={target.waiting.until} />)
            </>
          )}
        </p>
      )}
      {target.retry && (
        <p>
          Retry {target.retry.attempt} <Time at={target.retry.nextAt} />
        </p>
      )}
      {target.problem && <p class="problem">{target.problem}</p>}
      <CheckingNote target={target} />
      <dl class="facts wide">
        <dt>Revision</dt>
        <dd>
          {target.revision ? (
            <>
              <Sha sha={target.revision.sha} /> {target.revision.subject}
              {target.revision.author && <span class="muted"> · {target.revision.author}</span>}
              {target.revision.committedAt && (
                <span class="muted">
                  {' '}
                  · committed <Time at={target.revision.committedAt} />
                </span>
              )}
            </>
          ) : (
            <span class="muted">none applied yet</span>
          )}
        </dd>
        <dt>Last check</dt>
        <dd>
          <Time at={target.lastCheckAt} />
        </dd>
        <dt>Last apply</dt>
        <dd>
          <Time at={target.lastApplyAt} />
        </dd>
        {target.sharedHosts && target.sharedHosts.length > 0 && (
          <>
            <dt>Hosts shared with other targets</dt>
            <dd>{target.sharedHosts.join(', ')}</dd>
          </>
        )}
      </dl>
    </div>
  );
}

function Actions({ target, onDone }: { target: TargetPage; onDone: () => void }) {
  const { busy, outcome, run } = useAction();
  const [reason, setReason] = useState('');
  const reconcile = (mode: 'check' | 'apply') =>
    run(async () => {
      const { runs } = await api.reconcile(target.name, mode);
      onDone();
      const first = runs[0];
      return first ? (
        <>
          {mode === 'check' ? 'Check' : 'Apply'} queued: <a href={links.run(first.id)}>run #{first.id}</a>
        </>
      ) : (
        'Nothing was queued.'
      );
    });
  const suspend = () =>
    run(async () => {
      await api.suspend(target.name, reason.trim());
      onDone();
      return `${target.name} is suspended.`;
    });
  const resume = () =>
    run(async () => {
      await api.resume(target.name);
      onDone();
      return `${target.name} is resumed.`;
    });
  return (
    <section aria-labelledby="actions-title" class="actions">
      <h2 id="actions-title">Actions</h2>
      <div class="buttons">
        <button type="button" disabled={busy} onClick={() => reconcile('check')}>
          Check now
        </button>
        <button type="button" disabled={busy} onClick={() => reconcile('apply')}>
          Apply now
        </button>
        {target.suspended ? (
          <button type="button" disabled={busy} onClick={resume}>
            Resume
          </button>
        ) : (
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void suspend();
            }}
          >
            <label for="suspend-reason">Reason</label>
            <input id="suspend-reason" value={reason} placeholder="optional" onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            <button type="submit" disabled={busy}>
              Suspend
            </button>
          </form>
        )}
      </div>
      <p class="muted small">Apply runs the playbook for real, whatever the target's mode. Actions need the API token.</p>
      <OutcomeNote outcome={outcome} />
    </section>
  );
}

function Hosts({ target }: { target: TargetPage }) {
  return (
    <section aria-labelledby="hosts-title">
      <h2 id="hosts-title">Hosts</h2>
      {target.hosts.length === 0 ? (
        <p class="muted">No host recorded yet.</p>
      ) : (
        <TableBox label={`hosts of ${target.name}`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Tasks to change
                </th>
              </tr>
            </thead>
            <tbody>
              {target.hosts.map((host) => (
                <tr key={host.name}>
                  <th scope="row">
                    <a href={links.host(host.name)}>{host.name}</a>
                  </th>
                  <td>
                    <TargetBadge status={host.status} />
                  </td>
                  <td class="num">{host.changedTasks}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
    </section>
  );
}

function Coverage({ target }: { target: TargetPage }) {
  const { coverage, nonIdempotentTasks } = target;
  return (
    <>
      <section aria-labelledby="coverage-title">
        <h2 id="coverage-title">Unverified tasks</h2>
        {coverage && <p>{coverage.text}</p>}
        {!coverage || coverage.unverified.length === 0 ? (
          <p class="muted">{coverage ? 'Check mode could verify every task.' : 'No check has reported its coverage yet.'}</p>
        ) : (
          <UnverifiedTable tasks={coverage.unverified} label="tasks check mode could not verify" />
        )}
      </section>
      <section aria-labelledby="idempotence-title">
        <h2 id="idempotence-title">Non-idempotent tasks</h2>
        {nonIdempotentTasks.length === 0 ? (
          <p class="muted">{target.lastApplyAt ? 'None: the verify check after the last apply changed nothing.' : 'No apply yet, so nothing to verify.'}</p>
        ) : (
          <>
            <p>The verify check after the last apply still changed these:</p>
            <ul>
              {nonIdempotentTasks.map((task) => (
                <li key={task}>{task}</li>
              ))}
            </ul>
          </>
        )}
      </section>
    </>
  );
}
