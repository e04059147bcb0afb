import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { percentile } from '../../bench/torture/common.js';
import { probeFromAnotherProcess } from '../../bench/torture/latency-probe.js';
import { idleKeepAlive, slowCrowd, type SlowFate } from '../../bench/torture/slow-crowd.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Slow clients against a real daemon (the built dist/): 200 sockets trickling requests are closed by the server
 * within api.timeouts (short ones here), an idle kept-alive socket within keepAlive, and meanwhile a normal
 * client in another process keeps getting /healthz and /api/v1/status without stalls. The figure (p99 ≤
 * 100 ms) is a speed goal: `npm run torture` (scenario slow-clients) measures and reports it on a quiet machine.
 */

const files = {
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n',
  'inventories/web.yml': 'all:\n  hosts:\n    web1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
};
const timeouts = { headersMs: 2000, requestMs: 4000, keepAliveMs: 1000 };
/**
 * How late after its timeout a socket may be closed: Node checks for expired requests once a second (the daemon
 * sets `connectionsCheckingInterval` to 1 s), plus a second for a busy machine. Today's daemon never closes them.
 */
const lateMs = 2000;
/**
 * What this test protects: the daemon keeps answering while 200 sockets hang on it. A loopback request to an idle
 * daemon takes 1–3 ms and p99 stays near 20 ms even at load 12 on 2 cores, with outliers past 100 ms there; a
 * daemon whose sockets or event loop the crowd starved answers in seconds or not at all.
 */
const p99BoundMs = 1000;
const crowdSize = 200;
/** Long enough for the first generation of slow bodies to be closed (request timeout + late) and some replaced. */
const probeMs = 9000;

describe('slow clients', () => {
  let d: RunningDaemon;
  let secrets: string;

  before(async () => {
    secrets = tempDir('fleetcd-slow-');
    writeFileSync(join(secrets, 'webhook-secret'), 'slow-clients-secret\n', { mode: 0o600 });
    d = await startDaemonFleet(files, 'reconcile: { interval: 1h }', {
      repository: `webhookSecretFile: ${JSON.stringify(join(secrets, 'webhook-secret'))}`,
      api: 'timeouts: { headers: 2s, request: 4s, keepAlive: 1s }',
    });
    // The start-up check must not share the CPU with the measurement.
    await waitFor('the start-up check to end', async () => {
      const { targets } = await d.status();
      return targets.length > 0 && targets.every((t) => !t.running && t.lastRun !== null);
    }, 60_000, 200);
  });

  after(async () => {
    await d?.cleanup();
    if (secrets) removeDir(secrets);
  });

  it(`${crowdSize} trickling sockets are closed within api.timeouts while /healthz and /api/v1/status keep p99 ≤ ${p99BoundMs} ms`, { timeout: 120_000 }, async (t) => {
    const port = Number(new URL(d.base).port);
    const crowd = slowCrowd(port, crowdSize, { everyMs: 250, token: d.token });
    const keptAlive = idleKeepAlive(port, timeouts.keepAliveMs + 10_000);
    let fates: SlowFate[];
    let replacements: number;
    try {
      await waitFor(`${crowdSize} slow sockets to be open`, () => crowd.open() === crowdSize, 10_000, 20);
      const probed = await probeFromAnotherProcess(d.base, ['/healthz', '/api/v1/status'], probeMs);
      ({ first: fates, replacements } = crowd.stop());
      assert.deepEqual(probed.failures, [], 'every request of the normal client was answered 200');
      for (const [path, latencies] of Object.entries(probed.latencies)) {
        const p99 = percentile(latencies, 99);
        t.diagnostic(`${path}: ${latencies.length} requests, p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
        assert.ok(latencies.length >= 100, `${path}: only ${latencies.length} requests measured`);
        assert.ok(p99 <= p99BoundMs, `${path}: p99 ${p99.toFixed(1)} ms > ${p99BoundMs} ms with ${crowdSize} slow sockets open`);
      }
    } finally {
      crowd.stop();
    }
    t.diagnostic(`slow sockets replaced after the server closed them: ${replacements}`);
    for (const kind of ['headers', 'webhook body', 'reconcile body'] as const) {
      const limit = (kind === 'headers' ? timeouts.headersMs : timeouts.requestMs) + lateMs;
      const mine = fates.filter((fate) => fate.kind === kind);
      const closed = mine.map((fate) => fate.closedByServerAfterMs).filter((ms): ms is number => ms !== null);
      t.diagnostic(`slow ${kind}: ${closed.length}/${mine.length} closed by the server, after ${Math.min(...closed)}–${Math.max(...closed)} ms`);
      const open = mine.filter((fate) => fate.closedByServerAfterMs === null || fate.closedByServerAfterMs > limit);
      assert.deepEqual(open.map((fate) => fate.closedByServerAfterMs), [], `slow ${kind}: every socket closed within ${limit} ms`);
      const accepted = mine.filter((fate) => fate.answered !== null && fate.answered < 400);
      assert.deepEqual(accepted, [], `slow ${kind}: an unfinished request is never answered with success`);
    }
    const idle = await keptAlive;
    t.diagnostic(`idle keep-alive socket closed ${idle.closedAfterAnswerMs} ms after its answer`);
    assert.equal(idle.answered, 200);
    assert.ok(idle.closedAfterAnswerMs !== null && idle.closedAfterAnswerMs <= timeouts.keepAliveMs + lateMs, `idle keep-alive closed after ${idle.closedAfterAnswerMs} ms`);
  });
});
