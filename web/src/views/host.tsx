import { useEffect, useState } from 'preact/hooks';
import { api } from '../api.js';
import { ChangeList } from '../diff.js';
import { links, usePoll } from '../hooks.js';
import { ErrorNote, Loading, RunTable, TableBox, TargetBadge } from '../ui.js';
import { Heading } from './common.js';

/** One host across the targets that have it: its status in each, its newest changes and failures, its runs. */
export function HostView({ name }: { name: string }) {
  const [missingRoute, setMissingRoute] = useState(false);
  // A daemon without the route is asked once, not every two seconds.
  const host = usePoll(`host:${name}`, (signal) => api.host(name, signal), missingRoute ? null : 2000);
  const noRoute = host.error?.status === 404 && /has no GET/.test(host.error.message);
  useEffect(() => setMissingRoute(noRoute), [noRoute]);
  return (
    <>
      <Heading title={name}>
        <span class="muted">Host</span> {name}
      </Heading>
      {noRoute ? (
        <p class="note" role="status">
          The host view is not available from this fleetcd yet: it has no <code>GET /api/v1/hosts/:name</code>. Each target's page lists its
          hosts, and each run its per-host recap. <a href={links.fleet()}>Back to the fleet</a>.
        </p>
      ) : (
        <ErrorNote error={host.error} />
      )}
      {!host.data && !host.error && <Loading what={`host ${name}`} />}
      {host.data && (
        <>
          <section aria-labelledby="in-targets-title">
            <h2 id="in-targets-title">In targets</h2>
            <TableBox label={`targets of ${name}`}>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Target</th>
                    <th scope="col">Status</th>
                    <th scope="col">Seen by</th>
                    <th scope="col" class="num">
                      Tasks to change
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {host.data.targets.map((t) => (
                    <tr key={t.target}>
                      <th scope="row">
                        <a href={links.target(t.target)}>{t.target}</a>
                      </th>
                      <td>
                        <TargetBadge status={t.status} />
                      </td>
                      <td>{t.runId === null ? '—' : <a href={links.run(t.runId)}>run #{t.runId}</a>}</td>
                      <td class="num">{t.changedTasks}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableBox>
          </section>
          <section aria-labelledby="host-changes-title">
            <h2 id="host-changes-title">Recent changes</h2>
            <ChangeList changes={host.data.changes} runLinks />
          </section>
          {host.data.failures.length > 0 && (
            <section aria-labelledby="host-failures-title">
              <h2 id="host-failures-title">Recent failures</h2>
              <ul>
                {host.data.failures.map((f, i) => (
                  <li key={i}>
                    <a href={links.run(f.runId)}>
                      {f.target} run #{f.runId}
                    </a>
                    , {f.task}: <pre class="message">{f.message ?? '—'}</pre>
                  </li>
                ))}
              </ul>
            </section>
          )}
          <section aria-labelledby="host-runs-title">
            <h2 id="host-runs-title">Runs that touched it</h2>
            <RunTable runs={host.data.runs} caption={`runs that touched ${name}`} showTarget />
          </section>
        </>
      )}
    </>
  );
}
