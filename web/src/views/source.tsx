import { api, type SourceView as Source } from '../api.js';
import { usePoll } from '../hooks.js';
import { ErrorNote, Loading, Sha, TableBox, Time } from '../ui.js';
import { Heading } from './common.js';

/** The watched repository and every tip seen: accepted ones and refused ones with the reason. */
export function SourceView() {
  const source = usePoll('source', api.source, 5000);
  return (
    <>
      <Heading title="Source" />
      <ErrorNote error={source.error} />
      {!source.data && !source.error && <Loading what="the source" />}
      {source.data && <SourceBody source={source.data} />}
    </>
  );
}

function SourceBody({ source }: { source: Source }) {
  return (
    <>
      {source.lastError && (
        <p class="note error" role="alert">
          <span aria-hidden="true">⚠ </span>
          The last fetch failed: {source.lastError}
        </p>
      )}
      <dl class="facts wide">
        <dt>Repository</dt>
        <dd>
          <code>{source.url}</code>
        </dd>
        <dt>{source.revision ? 'Pinned to' : 'Branch'}</dt>
        <dd>
          <code>{source.revision ?? source.branch}</code>
        </dd>
        <dt>In use</dt>
        <dd>
          {source.sha ? (
            <>
              <Sha sha={source.sha} /> {source.subject}
              {source.author && <span class="muted"> · {source.author}</span>}
              {source.committedAt && (
                <span class="muted">
                  {' '}
                  · committed <Time at={source.committedAt} />
                </span>
              )}
            </>
          ) : (
            <span class="muted">nothing fetched yet</span>
          )}
        </dd>
        <dt>Last fetch</dt>
        <dd>
          <Time at={source.lastFetchAt} />
        </dd>
        {source.lastRecovery && (
          <>
            <dt>Mirror recovered</dt>
            <dd>
              <Time at={source.lastRecovery.at} />: {source.lastRecovery.reason}
            </dd>
          </>
        )}
      </dl>
      <section aria-labelledby="history-title">
        <h2 id="history-title">Tips seen</h2>
        {source.history.length === 0 ? (
          <p class="muted">None yet.</p>
        ) : (
          <TableBox label="revision history">
            <table>
              <thead>
                <tr>
                  <th scope="col">Commit</th>
                  <th scope="col">Status</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Author</th>
                  <th scope="col">Committed</th>
                  <th scope="col">First seen</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {source.history.map((entry) => (
                  <tr key={`${entry.sha}-${entry.firstSeenAt}`}>
                    <th scope="row">
                      <Sha sha={entry.sha} />
                    </th>
                    <td>
                      {entry.status === 'accepted' ? (
                        <span class="badge tone-in-sync">
                          <span aria-hidden="true">✓ </span>accepted
                        </span>
                      ) : (
                        <span class="badge tone-failed">
                          <span aria-hidden="true">✕ </span>refused
                        </span>
                      )}
                      {entry.forced && <span class="badge tone-drifted">forced</span>}
                    </td>
                    <td>{entry.subject}</td>
                    <td>{entry.author}</td>
                    <td>
                      <Time at={entry.committedAt} />
                    </td>
                    <td>
                      <Time at={entry.firstSeenAt} />
                    </td>
                    <td>{entry.reason ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableBox>
        )}
      </section>
    </>
  );
}
