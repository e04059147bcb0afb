import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { reconfigureRepository } from '../../bench/torture/common.js';
import { localInventory } from '../helpers/fleet.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The daemon's event loop while it handles bulk content (issue 19, item 4): a 100 MB file fetched and checked
 * out, a run printing 50 MB in one message (a 50 MB event line, over the 4 MiB line cap, and a log capped at
 * retention.maxLogSize), and a 100 MB ansible.cfg (the one checkout file the daemon reads itself). The measure
 * is the daemon's own: prom-client's `monitorEventLoopDelay` histogram, whose max /metrics serves since the
 * previous scrape, so a loaded machine slowing this test's own requests cannot pass for a block.
 */

/**
 * The issue's bound for /healthz under load. Bulk work done synchronously blocks for seconds: the whole-file
 * read and parse of ansible.cfg before f212cc4 blocked this test's daemon for 1324 ms at load 2.5. Today's
 * longest block here is ~50 ms at load 2.5 and ~160 ms at load 10 on 2 cores (its CPU slices stretched by the others).
 */
const maxBlockMs = 1000;
const bigMiB = 100;
const loudMiB = 50;

const site = '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n';
const loud = `- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: "{{ 'x' * ${loudMiB * 1024 * 1024} }}"\n`;

/** The daemon's longest event-loop delay since the previous scrape, in ms; this scrape opens the next window. */
async function longestBlockMs(d: RunningDaemon): Promise<number> {
  const text = await (await fetch(`${d.base}/metrics`)).text();
  const line = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text);
  assert.ok(line, 'GET /metrics serves nodejs_eventloop_lag_max_seconds');
  return Number(line[1]) * 1000;
}

/** A file of `mib` MiB of INI comment lines, written a MiB at a time (never held whole). */
function writeBig(path: string, mib: number): void {
  const block = Buffer.from(`[defaults]\n${`# ${'x'.repeat(97)}\n`.repeat(10 * 1024 - 1)}`.padEnd(1024 * 1024, '#'));
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mib; i++) writeSync(fd, block);
  } finally {
    closeSync(fd);
  }
}

describe("the daemon's event loop under bulk repository content", () => {
  let d: RunningDaemon;
  let sandbox: string;

  before(async () => {
    sandbox = tempDir('fleetcd-loop-');
    d = await startDaemonFleet(
      { 'playbooks/site.yml': site, 'inventories/good.yml': localInventory(sandbox, ['g1']) },
      'reconcile: { interval: 1h }\ntargets:\n  good: {}\n  loud: { playbook: playbooks/loud.yml }',
    );
    await reconfigureRepository(d, { pollInterval: '1s' });
    // Start-up (loading modules, the first check) is not what is measured.
    await waitFor('the start-up check to end', async () => {
      const { targets } = await d.status();
      return targets.length > 0 && targets.every((t) => !t.running && t.lastRun !== null);
    }, 120_000, 200);
  });

  after(async () => {
    await d?.cleanup();
    if (sandbox) removeDir(sandbox);
  });

  /** Commits what is in the working tree plus `files`, and waits until the daemon uses that revision. */
  async function publish(files: Record<string, string | null>, message: string): Promise<void> {
    const sha = await d.repo.commit(files, message);
    await waitFor(`the daemon to use ${message}`, async () => ((await d.status()).revision?.sha === sha ? true : undefined), 120_000, 200);
  }

  test('checking out a 100 MB file, a 50 MB event line and a 100 MB ansible.cfg never block it for 1 s', { timeout: 600_000 }, async (t) => {
    await longestBlockMs(d); // opens the window
    writeBig(join(d.repo.work, 'files', 'big.bin'), bigMiB);
    await publish({ 'playbooks/loud.yml': loud, 'inventories/loud.yml': localInventory(sandbox, ['l1']) }, `a ${bigMiB} MB file and a loud playbook`);
    const { runs: loudRuns } = await d.reconcile({ targets: ['loud'], mode: 'check' });
    const loudRun = await d.finished(loudRuns[0]!.id, 300_000);
    assert.equal(loudRun.status, 'succeeded', `the ${loudMiB} MB run: ${loudRun.error}`);
    const log = await fetch(`${d.base}/api/v1/runs/${loudRun.id}/log`);
    await log.body?.cancel();
    const logSize = Number(log.headers.get('x-log-size'));
    assert.ok(logSize > 10 * 1024 * 1024, `the run's log holds its output (${logSize} bytes)`);

    writeBig(join(d.repo.work, 'ansible.cfg'), bigMiB);
    await publish({}, `a ${bigMiB} MB ansible.cfg`);
    const { runs: cfgRuns } = await d.reconcile({ targets: ['good'], mode: 'check' });
    const cfgRun = await d.finished(cfgRuns[0]!.id, 300_000);

    const longest = await longestBlockMs(d);
    t.diagnostic(`the daemon's longest event-loop block: ${Math.round(longest)} ms`);
    assert.ok(longest < maxBlockMs, `the daemon's event loop was blocked for ${Math.round(longest)} ms (bound ${maxBlockMs} ms)`);
    assert.match(cfgRun.error ?? '', /ansible\.cfg: is \d+ bytes/, `the run with a ${bigMiB} MB ansible.cfg is refused for its size`);
  });
});
