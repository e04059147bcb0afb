import { useState } from 'preact/hooks';
import { api, type Status, type Target } from '../api.js';
import { plural, suspendedIcon, targetStatusLook } from '../format.js';
import { links, usePoll } from '../hooks.js';
import { ErrorNote, Loading, Sha, TargetBadge, Time } from '../ui.js';
import { Heading } from './common.js';
import { CheckingNote } from './revisions.js';

/** Every target as a tile, worst first, live: the status is polled every second while the tab is visible. */
export function FleetView() {
  const { data, error } = usePoll('status', api.status, 1000);
  const [filter, setFilter] = useState('');
  return (
    <>
      <Heading title="Fleet" />
      <ErrorNote error={error} />
      {data ? <Fleet status={data} filter={filter} setFilter={setFilter} /> : !error && <Loading what="the fleet" />}
    </>
  );
}

const byWorstFirst = (a: Target, b: Target): number =>
  targetStatusLook[a.status].rank - targetStatusLook[b.status].rank || a.name.localeCompare(b.name);

function matches(target: Target, words: string[]): boolean {
  const text = `${target.name} ${targetStatusLook[target.status].label} ${target.status} ${target.mode}${target.suspended ? ' suspended' : ''}`.toLowerCase();
  return words.every((word) => text.includes(word));
}

function Fleet({ status, filter, setFilter }: { status: Status; filter: string; setFilter: (v: string) => void }) {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = status.targets.filter((t) => matches(t, words)).sort(byWorstFirst);
  const counts = new Map<string, number>();
  for (const t of status.targets) counts.set(t.status, (counts.get(t.status) ?? 0) + 1);
  const tally = Object.entries(targetStatusLook)
    .filter(([key]) => counts.has(key))
    .map(([key, look]) => `${counts.get(key)} ${look.label}`)
    .join(', ');
  return (
    <>
      <Source status={status} />
      <p role="status" class="tally">
        {plural(status.targets.length, 'target')}
        {tally && `: ${tally}`}
      </p>
      <div class="filter">
        <label for="fleet-filter">Filter targets</label>
        <input
          id="fleet-filter"
          type="search"
          value={filter}
          placeholder="name, status or mode"
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        {words.length > 0 && <span class="muted">{`${shown.length} of ${status.targets.length} shown`}</span>}
      </div>
      {status.targets.length === 0 ? (
        <p class="muted">No targets yet: the revision has no inventories, or it is still being fetched.</p>
      ) : (
        <ul class="tiles">
          {shown.map((target) => (
            <li key={target.name}>
              <Tile target={target} />
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

function Source({ status }: { status: Status }) {
  const { revision, source } = status;
  return (
    <>
      {source.error && (
        <p class="note error" role="alert">
          <span aria-hidden="true">⚠ </span>
          The repository could not be fetched: {source.error} (last good fetch <Time at={source.lastFetchAt} />)
        </p>
      )}
      <p class="revision-line">
        {revision ? (
          <>
            Revision <Sha sha={revision.sha} /> on <strong>{revision.branch}</strong>: {revision.subject} · last fetch{' '}
            <Time at={source.lastFetchAt} /> (this revision since <Time at={revision.fetchedAt} />) ·{' '}
            <a href={links.source()}>history</a>
          </>
        ) : (
          'No revision fetched yet.'
        )}
      </p>
    </>
  );
}

/** One target: what it is, what it last saw, what it waits for, what is wrong. */
export function Tile({ target }: { target: Target }) {
  const { hosts, revision, coverage } = target;
  const unverified = coverage?.unverified.length ?? 0;
  return (
    <article
      class={`tile tone-${target.status}`}
      aria-labelledby={`tile-${target.name}`}
      data-target={target.name}
      data-status={target.status}
      data-last-check={target.lastCheckAt ?? ''}
    >
      <h2 id={`tile-${target.name}`} class="tile-name">
        <a href={links.target(target.name)}>{target.name}</a>
      </h2>
      <p class="tile-status">
        <TargetBadge status={target.status} />
        <span class="mode">{target.mode}</span>
        {target.suspended && <span class="badge tone-suspended">{suspendedIcon} suspended</span>}
        {target.running && (
          <span class="badge tone-running">
            <span aria-hidden="true">▶ </span>running
          </span>
        )}
      </p>
      {target.waiting && <p class="waiting">waiting for {target.waiting.detail}</p>}
      {target.problem && <p class="problem">{target.problem}</p>}
      <CheckingNote target={target} />
      <dl class="facts">
        <dt>Revision</dt>
        <dd>
          {revision ? (
            <>
              <Sha sha={revision.sha} /> {revision.subject}
              {revision.author && <span class="muted"> · {revision.author}</span>}
            </>
          ) : (
            <span class="muted">none applied yet</span>
          )}
        </dd>
        <dt>Checked</dt>
        <dd>
          <Time at={target.lastCheckAt} />
        </dd>
        <dt>Applied</dt>
        <dd>
          <Time at={target.lastApplyAt} />
        </dd>
        <dt>Hosts</dt>
        <dd>
          {hosts.drifted} of {hosts.total} drifted
          {hosts.unreachable > 0 && `, ${hosts.unreachable} unreachable`}
          {hosts.failed > 0 && `, ${hosts.failed} failed`}
        </dd>
        {unverified > 0 && (
          <>
            <dt>Unverified</dt>
            <dd>{plural(unverified, 'task')}</dd>
          </>
        )}
      </dl>
    </article>
  );
}
