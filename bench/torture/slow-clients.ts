/**
 * Slow clients: hundreds of sockets trickling requests one byte at a time and never finishing them (headers,
 * a webhook body, a reconcile body), replaced as soon as the daemon closes one, while a normal client in another
 * process asks for `/healthz` and `/api/v1/status` on fresh connections. Required: every slow socket closed by the
 * daemon within api.timeouts (plus Node's one-second check), an idle kept-alive socket within keepAlive, and the
 * normal client's p99 ≤ 100 ms throughout.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemonFleet } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { waitFor } from '../../test/helpers/wait.js';
import { idle, localHosts, memoryOf, mib, ms, percentile, scenario, type Mode, type Recorder, type ScenarioResult } from './common.js';
import { probeFromAnotherProcess } from './latency-probe.js';
import { idleKeepAlive, slowCrowd, slowKinds, type SlowFate } from './slow-crowd.js';

/** Short mode: small and quick (CI). Full mode: the 200 sockets against the default timeouts. */
const sizes = {
  short: { sockets: 60, timeouts: { headersMs: 1000, requestMs: 2000, keepAliveMs: 1000 }, probeMs: 4000, api: 'timeouts: { headers: 1s, request: 2s, keepAlive: 1s }', p99BoundMs: 1000 },
  full: { sockets: 200, timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 }, probeMs: 36_000, api: '', p99BoundMs: 100 },
} as const;
// The normal client's p99: the 100 ms in full mode (run on a quiet machine); in short mode, which CI runs
// beside other test files, a bound that still catches a starved daemon (seconds) but not a busy machine's outliers.
/** Node looks for expired requests once a second; another second for a busy machine. */
const lateMs = 2000;
const tricklePauseMs = 250;

const playbook = '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n';

export function slowClients(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('slow-clients', 'Slow clients', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-slow-');
    writeFileSync(join(sandbox, 'webhook-secret'), 'torture-slow-secret\n', { mode: 0o600 });
    const d = await startDaemonFleet({ 'playbooks/site.yml': playbook, 'inventories/web.yml': localHosts(sandbox, ['h1']) }, 'reconcile: { interval: 1h }', {
      repository: `webhookSecretFile: ${JSON.stringify(join(sandbox, 'webhook-secret'))}`,
      api: size.api || undefined,
    });
    try {
      await idle(d);
      const pid = d.process.child.pid!;
      const port = Number(new URL(d.base).port);
      const { headersMs, requestMs, keepAliveMs } = size.timeouts;
      r.step(
        `Started a daemon with api.timeouts headers ${ms(headersMs)}, request ${ms(requestMs)}, keepAlive ${ms(keepAliveMs)}${size.api ? '' : ' (the defaults)'}; ` +
          `once idle, opened ${size.sockets} sockets that trickle a request one byte every ${tricklePauseMs} ms and never finish it (a third each: headers, ` +
          'a webhook body after complete headers, a reconcile body after complete headers), each replaced as soon as the daemon closed it, and one ' +
          `kept-alive socket idle after one answer; meanwhile a client in another process asked for /healthz and /api/v1/status on fresh connections for ${ms(size.probeMs)}.`,
      );
      const memoryBefore = memoryOf(pid);
      const crowd = slowCrowd(port, size.sockets, { everyMs: tricklePauseMs, token: d.token });
      const keptAlive = idleKeepAlive(port, keepAliveMs + 15_000);
      let stopped: ReturnType<typeof crowd.stop> | undefined;
      try {
        await waitFor(`${size.sockets} slow sockets to be open`, () => crowd.open() === size.sockets, 15_000, 20);
        const probed = await probeFromAnotherProcess(d.base, ['/healthz', '/api/v1/status'], Math.max(size.probeMs, requestMs + lateMs + 1000));
        stopped = crowd.stop();
        r.check('the normal client gets every answer (200)', probed.failures.length === 0, probed.failures.length === 0 ? 'all answered' : `${probed.failures.length} failed, e.g. ${probed.failures[0]}`);
        for (const [path, latencies] of Object.entries(probed.latencies)) {
          const p99 = percentile(latencies, 99);
          r.check(`\`${path}\` p99 ≤ ${size.p99BoundMs} ms with ${size.sockets} slow sockets open`, p99 <= size.p99BoundMs, `p99 ${ms(p99)} over ${latencies.length} requests`);
          r.figure(`\`${path}\` p50 / p99 / max`, `${ms(percentile(latencies, 50))} / ${ms(p99)} / ${ms(Math.max(...latencies))} (${latencies.length} requests)`);
        }
      } finally {
        stopped ??= crowd.stop();
      }
      checkClosed(r, stopped.first, size.timeouts);
      r.figure('slow sockets the daemon closed and the crowd replaced', stopped.replacements);
      const idleSocket = await keptAlive;
      const idleOk = idleSocket.answered === 200 && idleSocket.closedAfterAnswerMs !== null && idleSocket.closedAfterAnswerMs <= keepAliveMs + lateMs;
      r.check(`an idle kept-alive socket is closed within keepAlive + ${ms(lateMs)}`, idleOk, idleSocket.closedAfterAnswerMs === null ? `still open after ${ms(keepAliveMs + 15_000)}` : `closed ${ms(idleSocket.closedAfterAnswerMs)} after its answer`);
      const alive = d.process.child.exitCode === null && (await fetch(`${d.base}/healthz`)).ok;
      r.check('the same daemon process still answers', alive && d.process.child.pid === pid, `pid ${pid}`);
      r.figure('daemon RSS before / after', `${mib(memoryBefore.rssKiB)} / ${mib(memoryOf(pid).rssKiB)}`);
    } finally {
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}

/** Each kind of slow socket closed by the daemon within its timeout, and never answered with success. */
function checkClosed(r: Recorder, fates: readonly SlowFate[], timeouts: { headersMs: number; requestMs: number }): void {
  for (const kind of slowKinds) {
    const bound = (kind === 'headers' ? timeouts.headersMs : timeouts.requestMs) + lateMs;
    const mine = fates.filter((fate) => fate.kind === kind);
    const closed = mine.flatMap((fate) => (fate.closedByServerAfterMs === null ? [] : [fate.closedByServerAfterMs]));
    const inTime = closed.filter((after) => after <= bound).length;
    const range = closed.length > 0 ? `${ms(Math.min(...closed))}–${ms(Math.max(...closed))}` : 'none closed';
    r.check(`slow ${kind}: every socket closed by the daemon within ${ms(bound)}`, inTime === mine.length, `${inTime}/${mine.length} within the bound; closed after ${range}`);
    const answered = mine.filter((fate) => fate.answered !== null && fate.answered < 400);
    r.check(`slow ${kind}: an unfinished request is never answered with success`, answered.length === 0, answered.length === 0 ? 'none' : `${answered.length}: ${answered[0]!.answered}`);
  }
}
