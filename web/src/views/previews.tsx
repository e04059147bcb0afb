import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, type GateResult, type PreviewSummary, type PreviewTarget, type PreviewView as Preview } from '../api.js';
import { ChangeList } from '../diff.js';
import { isLive, plural, webLink } from '../format.js';
import { links, usePoll } from '../hooks.js';
import { ErrorNote, FailureTable, Loading, RunBadge, Sha, TableBox, Time, UnverifiedTable } from '../ui.js';
import { Heading, OutcomeNote, useAction } from './common.js';

/**
 * Previews: a check of any branch, tag or commit against the live fleet, never applied. The list with a form
 * that starts one, and one preview's plan per target (the page forge statuses and pull-request comments link to).
 */

const listLimit = 50;

export function PreviewsView() {
  const [live, setLive] = useState(false);
  const list = usePoll('previews', (signal) => api.previews(listLimit, signal), live ? 1000 : 5000);
  const anyLive = list.data?.previews.some((p) => isLive(p.status)) ?? false;
  useEffect(() => setLive(anyLive), [anyLive]);
  return (
    <>
      <Heading title="Previews" />
      <p>
        A preview checks a branch, tag or commit against the live fleet (<code>--check --diff</code>, never applied) and shows, per target,
        what it would change beyond the drift already there.
      </p>
      <StartForm />
      <section aria-labelledby="recent-title">
        <h2 id="recent-title">Recent previews</h2>
        <ErrorNote error={list.error} />
        {list.data ? <PreviewTable previews={list.data.previews} /> : !list.error && <Loading what="previews" />}
      </section>
    </>
  );
}

function StartForm() {
  const { busy, outcome, run } = useAction();
  const [ref, setRef] = useState('');
  const [targets, setTargets] = useState('');
  const refInput = useRef<HTMLInputElement>(null);
  const submit = (event: Event): void => {
    event.preventDefault();
    const wanted = ref.trim();
    void run(async () => {
      if (!wanted) {
        refInput.current?.focus();
        throw new ApiError(0, 'Enter a ref: a branch, a tag or a commit sha.');
      }
      const { id } = await api.startPreview(wanted, targets.split(/[\s,]+/).filter(Boolean));
      // The new preview's page is where its plan shows up; focus lands on its heading.
      location.hash = links.preview(id);
      return (
        <>
          Preview started: <a href={links.preview(id)}>preview #{id}</a>
        </>
      );
    });
  };
  return (
    <section aria-labelledby="start-title">
      <h2 id="start-title">Start a preview</h2>
      <form class="preview-form" onSubmit={submit} noValidate>
        <label for="preview-ref">Ref</label>
        <input
          id="preview-ref"
          ref={refInput}
          name="ref"
          value={ref}
          aria-required="true"
          autocomplete="off"
          spellcheck={false}
          placeholder="feature/x, v1.4.0 or a sha"
          onInput={(e) => setRef((e.target as HTMLInputElement).value)}
        />
        <label for="preview-targets">Targets</label>
        <input
          id="preview-targets"
          name="targets"
          value={targets}
          autocomplete="off"
          spellcheck={false}
          placeholder="all"
          aria-describedby="preview-targets-hint"
          onInput={(e) => setTargets((e.target as HTMLInputElement).value)}
        />
        <div class="buttons">
          <button type="submit" class="primary" disabled={busy}>
            Start preview
          </button>
        </div>
      </form>
      <p id="preview-targets-hint" class="muted small">
        Targets: names separated by commas or spaces; every target of the revision when empty. Starting a preview needs the API token.
      </p>
      <OutcomeNote outcome={outcome} />
    </section>
  );
}

function PreviewTable({ previews }: { previews: PreviewSummary[] }) {
  if (previews.length === 0) return <p class="muted">No previews yet.</p>;
  return (
    <TableBox label="recent previews">
      <table class="previews">
        <caption class="visually-hidden">the last {previews.length} previews, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Preview</th>
            <th scope="col">Ref</th>
            <th scope="col">Revision</th>
            <th scope="col">Status</th>
            <th scope="col">Requested by</th>
            <th scope="col">Requested</th>
            <th scope="col">Pull request</th>
          </tr>
        </thead>
        <tbody>
          {previews.map((p) => (
            <tr key={p.id}>
              <th scope="row">
                <a href={links.preview(p.id)}>#{p.id}</a>
              </th>
              <td>
                <code class="ref">{p.ref}</code>
              </td>
              <td>
                <Sha sha={p.revision} />
              </td>
              <td>
                <RunBadge status={p.status} />
              </td>
              <td>{p.requestedBy ?? <span class="muted">—</span>}</td>
              <td>
                <Time at={p.createdAt} />
              </td>
              <td>{p.pullRequest ? <PullRequestLink pr={p.pullRequest} /> : <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableBox>
  );
}

/** The forge's link, when it is a web address (the URL came in a webhook delivery: nothing else is a link). */
function PullRequestLink({ pr }: { pr: NonNullable<PreviewSummary['pullRequest']> }) {
  const text = `${pr.repository}#${pr.number}`;
  const href = webLink(pr.url);
  return href ? (
    <a href={href} rel="noreferrer noopener" target="_blank">
      {text}
      <span class="visually-hidden"> (on {pr.provider}, opens in a new tab)</span>
    </a>
  ) : (
    <span>{text}</span>
  );
}

/** One preview: what it is, its gates, and per target its plan; live (every second) while queued or running. */
export function PreviewView({ id }: { id: number }) {
  const [live, setLive] = useState(true);
  const preview = usePoll(`preview:${id}`, (signal) => api.preview(id, signal), live ? 1000 : null);
  const stillLive = preview.data ? isLive(preview.data.status) : !preview.error;
  useEffect(() => setLive(stillLive), [stillLive]);
  return (
    <>
      <Heading title={`Preview #${id}`}>
        Preview #{id} {preview.data && <RunBadge status={preview.data.status} />}
      </Heading>
      <p>
        <a href={links.previews()}>← Previews</a>
      </p>
      <ErrorNote error={preview.error} />
      {!preview.data && !preview.error && <Loading what={`preview ${id}`} />}
      {preview.data && <PreviewBody preview={preview.data} onChange={preview.refresh} />}
    </>
  );
}

function PreviewBody({ preview, onChange }: { preview: Preview; onChange: () => void }) {
  const { busy, outcome, run } = useAction();
  const live = isLive(preview.status);
  const cancel = () =>
    run(async () => {
      await api.cancelPreview(preview.id);
      onChange();
      return `Preview #${preview.id} is being cancelled.`;
    });
  const pr = preview.pullRequest;
  return (
    <>
      <p>
        A check of <code class="ref">{preview.ref}</code> against the live fleet, never applied.
        {live && ' The page follows it live.'}
      </p>
      {live && (
        <div class="buttons">
          <button type="button" disabled={busy} onClick={cancel}>
            Cancel preview
          </button>
        </div>
      )}
      <OutcomeNote outcome={outcome} />
      {preview.error && (
        <p class="note error">
          <span aria-hidden="true">⚠ </span>
          {preview.error}
        </p>
      )}
      <dl class="facts wide">
        <dt>Ref</dt>
        <dd>
          <code class="ref">{preview.ref}</code>
        </dd>
        <dt>Revision</dt>
        <dd>{preview.revision ? <Sha sha={preview.revision} /> : <span class="muted">not fetched yet</span>}</dd>
        <dt>Requested by</dt>
        <dd>{preview.requestedBy ?? <span class="muted">—</span>}</dd>
        <dt>Requested</dt>
        <dd>
          <Time at={preview.createdAt} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time at={preview.finishedAt} fallback="not yet" />
        </dd>
        {preview.supersededBy && (
          <>
            <dt>Superseded by</dt>
            <dd>
              <Sha sha={preview.supersededBy} />
            </dd>
          </>
        )}
        {pr && (
          <>
            <dt>Pull request</dt>
            <dd>
              <PullRequestLink pr={pr} /> <span class="muted">· {pr.provider} · head</span> <Sha sha={pr.headSha} />
            </dd>
          </>
        )}
      </dl>
      <Gates preview={preview} />
      {preview.targets.length === 0 ? (
        <section aria-labelledby="plan-title">
          <h2 id="plan-title">Plan</h2>
          <p class="muted">
            {live
              ? preview.revision
                ? 'No target check has started yet.'
                : 'Fetching the ref…'
              : 'No target was checked.'}
          </p>
        </section>
      ) : (
        preview.targets.map((target, i) => <TargetPlan key={target.target} target={target} index={i} />)
      )}
    </>
  );
}

function Gates({ preview }: { preview: Preview }) {
  const live = isLive(preview.status);
  return (
    <section aria-labelledby="gates-title">
      <h2 id="gates-title">Policy gates</h2>
      {preview.gates.length === 0 ? (
        <p class="muted">{live ? 'No gate has finished yet.' : 'No policy gate applies to this revision.'}</p>
      ) : (
        <TableBox label="policy gate results">
          <table>
            <thead>
              <tr>
                <th scope="col">Gate</th>
                <th scope="col">Result</th>
                <th scope="col">Command</th>
                <th scope="col" class="num">
                  Exit code
                </th>
                <th scope="col">Ran</th>
                <th scope="col">Output</th>
              </tr>
            </thead>
            <tbody>
              {preview.gates.map((gate) => (
                <GateRow key={`${gate.gate}\n${gate.command.join(' ')}`} gate={gate} />
              ))}
            </tbody>
          </table>
        </TableBox>
      )}
    </section>
  );
}

function GateRow({ gate }: { gate: GateResult }) {
  return (
    <tr>
      <th scope="row">{gate.gate}</th>
      <td>
        {gate.ok ? (
          <span class="badge tone-in-sync" data-status="passed">
            <span aria-hidden="true">✓ </span>passed
          </span>
        ) : (
          <span class="badge tone-failed" data-status="failed">
            <span aria-hidden="true">✕ </span>failed
          </span>
        )}
      </td>
      <td>
        <code>{gate.command.join(' ')}</code>
      </td>
      <td class="num">{gate.exitCode ?? '—'}</td>
      <td>
        <Time at={gate.ranAt} />
      </td>
      <td>
        {gate.output.trim() ? (
          <details class="more">
            <summary>Output of {gate.gate}</summary>
            <pre class="message">{gate.output}</pre>
          </details>
        ) : (
          <span class="muted">none</span>
        )}
      </td>
    </tr>
  );
}

/** One target's plan: what the revision would change, the drift already there (collapsed), unverified tasks, failures. */
function TargetPlan({ target, index }: { target: PreviewTarget; index: number }) {
  const live = isLive(target.status);
  const id = `plan-${index}`;
  const name = target.target;
  return (
    <section aria-labelledby={`${id}-title`} class="plan" data-target={name}>
      <h2 id={`${id}-title`}>
        <span class="muted">Plan for</span> {name} <RunBadge status={target.status} />
      </h2>
      <p>
        Target <a href={links.target(name)}>{name}</a>, checked by <a href={links.run(target.runId)}>run #{target.runId}</a>
        {live && ' (still going)'}.
      </p>
      {target.error && (
        <p class="note error">
          <span aria-hidden="true">⚠ </span>
          {target.error}
        </p>
      )}
      <section aria-labelledby={`${id}-changes`}>
        <h3 id={`${id}-changes`}>
          Would change <span class="muted">· {plural(target.changes.length, 'task')}</span>
        </h3>
        <ChangeList
          changes={target.changes}
          level={4}
          label={`changes ${name} would make on`}
          empty={live ? 'Not known until the check ends.' : 'Nothing beyond the drift already there.'}
        />
      </section>
      <section aria-labelledby={`${id}-drift`}>
        <h3 id={`${id}-drift`}>
          Drift already there <span class="muted">· {plural(target.existingDrift.length, 'task')}</span>
        </h3>
        {target.existingDrift.length === 0 ? (
          <p class="muted">{live ? 'Not known until the check ends.' : "None: when the preview ended, the target's newest check had reported no such change."}</p>
        ) : (
          <details class="more">
            <summary>
              Show the {plural(target.existingDrift.length, 'change')} the target's newest check had reported when the preview ended
            </summary>
            <ChangeList changes={target.existingDrift} level={4} label={`drift of ${name} already on`} />
          </details>
        )}
      </section>
      <section aria-labelledby={`${id}-unverified`}>
        <h3 id={`${id}-unverified`}>Unverified tasks</h3>
        {target.unverified.length === 0 ? (
          <p class="muted">{live ? 'Not known until the check ends.' : 'Check mode could verify every task.'}</p>
        ) : (
          <UnverifiedTable tasks={target.unverified} label={`tasks check mode could not verify for ${name}`} />
        )}
      </section>
      {target.failures.length > 0 && (
        <section aria-labelledby={`${id}-failures`}>
          <h3 id={`${id}-failures`}>Failures</h3>
          <FailureTable failures={target.failures} label={`failed tasks of ${name}`} />
        </section>
      )}
    </section>
  );
}
