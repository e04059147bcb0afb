import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunList } from '../../src/api/schemas.js';
import { firstMalformedLine, noiseFilterPlugin, noisyInventory, noisyPlaybook, sentCount } from '../helpers/noisy-repo.js';
import { processesMentioning } from '../helpers/processes.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * A branch's filter plugin writes garbage to the event pipe during a run (the reproduction: `{"event": "stats"}`
 * took the daemon down with a TypeError). Every line is checked against the event schema; one that does not fit
 * is counted on the run and skipped, the first of the run logged with its first 200 bytes.
 */

describe('malformed lines on the event pipe during a real run', { timeout: 180_000 }, () => {
  let d: RunningDaemon;
  let sandbox: string;

  before(async () => {
    sandbox = tempDir('fleetcd-noise-');
    mkdirSync(join(sandbox, 'h1'));
    d = await startDaemonFleet(
      {
        'playbooks/site.yml': noisyPlaybook,
        'playbooks/filter_plugins/noise.py': noiseFilterPlugin(1),
        'inventories/web.yml': noisyInventory(join(sandbox, 'h1')),
      },
      'reconcile: { mode: detect, interval: 1h }',
    );
  });

  after(async () => {
    await d?.cleanup();
    removeDir(sandbox);
  });

  test('the daemon lives, the run ends with its real outcome, every bad line is counted and the first logged once', async () => {
    const first = await waitFor('the start-up check', async () => (await d.get<RunList>('/api/v1/runs')).runs.find((r) => r.kind === 'check'), 60_000, 200);
    const run = await d.finished(first.id);
    assert.equal(d.process.child.exitCode, null, `the daemon is alive: ${d.process.output()}`);
    assert.equal(run.status, 'succeeded', run.error ?? '');
    assert.equal(run.exitCode, 0);
    // The real recap arrived after the fake ones: one host, the sandbox file would change.
    assert.deepEqual(run.hosts.map((h) => [h.host, h.changed]), [['h1', 1]]);
    assert.deepEqual(run.changes.map((c) => c.task), ['config']);
    const sent = sentCount(readFileSync(join(sandbox, 'h1', 'sent'), 'utf8'));
    assert.equal(sent, 13);
    assert.equal(run.malformedEvents, sent);

    const logged = d.process
      .output()
      .split('\n')
      .filter((line) => line.includes('malformed line on the event pipe'))
      .map((line) => JSON.parse(line) as { runId: number; line: string });
    assert.equal(logged.length, 1, 'one log line per run');
    assert.equal(logged[0]!.runId, run.id);
    assert.equal(logged[0]!.line, firstMalformedLine.slice(0, 200));

    // A later run counts its own.
    const { runs } = await d.reconcile({ targets: ['web'], mode: 'check' });
    const second = await d.finished(runs[0]!.id);
    assert.equal(second.status, 'succeeded');
    assert.equal(second.malformedEvents, sentCount(readFileSync(join(sandbox, 'h1', 'sent'), 'utf8')) - sent);
    assert.equal((await d.run(run.id)).malformedEvents, sent, 'the first run keeps its count');
    assert.equal(d.process.output().split('\n').filter((line) => line.includes('malformed line on the event pipe')).length, 2);
    assert.deepEqual(processesMentioning(d.stateDir), [], 'nothing of the runs is left');
  });
});
