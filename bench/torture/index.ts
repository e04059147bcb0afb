/** The torture scenarios, in the order the suite runs them (the quick ones first). */
import type { Mode, ScenarioResult } from './common.js';
import { hostileRepo } from './hostile-repo.js';
import { hostileRequests } from './hostile-requests.js';
import { hungHost } from './hung-host.js';
import { kill9 } from './kill9.js';
import { malformedEvents } from './malformed-events.js';
import { replay } from './replay.js';
import { slowClients } from './slow-clients.js';
import { sourceFaults } from './source-faults.js';
import { triggerStorm } from './trigger-storm.js';
import { urlSpelling } from './url-spelling.js';

/** A scenario: its name (`--only`), what it proves (the test's name), and how to run it. */
export type Scenario = { name: string; proves: string; run: (mode: Mode) => Promise<ScenarioResult> };

export const scenarios: readonly Scenario[] = [
  {
    name: 'hostile-requests',
    proves: 'hostile requests over every route get no 5xx, restart nothing, queue nothing, and leave RSS bounded',
    run: hostileRequests,
  },
  {
    name: 'slow-clients',
    proves: 'slow clients trickling bytes are closed within api.timeouts while /healthz and /api/v1/status keep p99 ≤ 100 ms',
    run: slowClients,
  },
  { name: 'replay', proves: 'the same signed webhook delivery sent N times starts one fetch and one preview; the rest are duplicates', run: replay },
  {
    name: 'url-spelling',
    proves: 'no spelling of a route (percent-encoding, doubled slashes, dot segments, absolute form) answers data without its token',
    run: urlSpelling,
  },
  { name: 'trigger-storm', proves: 'a storm of reconcile requests for one target gives at most 2 runs', run: triggerStorm },
  {
    name: 'source-faults',
    proves: 'a vanished remote, a force-push and a corrupt mirror are reported, keep the last good revision and recover within a poll',
    run: sourceFaults,
  },
  { name: 'hung-host', proves: 'a run on stalled SSH hosts times out on schedule while other targets run', run: hungHost },
  {
    name: 'hostile-repo',
    proves: 'hostile repository content is refused or handled within bounded memory while the daemon keeps answering',
    run: hostileRepo,
  },
  {
    name: 'malformed-events',
    proves: 'malformed lines on the event pipe are counted and skipped: the daemon lives, runs keep their outcome, nothing is left',
    run: malformedEvents,
  },
  {
    name: 'kill9',
    proves: 'after kill -9 in checks and applies: integrity ok, finished runs intact, none left running, no orphans, converges',
    run: kill9,
  },
];

export type { Mode, ScenarioResult } from './common.js';
export { passed, renderReport } from './report.js';
