import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * A window shorter than the check, on a real fleet (real ansible-playbook, real SQLite): a reconcile asked for
 * inside it applies when its check ends after the window closed; one asked for after it waits for the next.
 */

/** A daily window opening at `at`, whole seconds, UTC: a six-field cron names one second of the day. */
function dailyAt(at: Date): string {
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
}

const slowCheck = playbook(`
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "managed\\n" }
    - name: take longer than the window
      ansible.builtin.pause: { seconds: 4 }
`);

describe('an apply window shorter than the check', { timeout: 180_000 }, () => {
  let f: TestFleet;
  let dir: string;
  let opensAt: Date;
  const windowMs = 2_000;

  before(async () => {
    dir = tempDir('fleetcd-window-');
    mkdirSync(join(dir, 'hosts', 'n1'), { recursive: true });
    // Far enough ahead for the fleet to open; the window is 2 s and the check at least 4 s.
    opensAt = new Date(Math.ceil((Date.now() + 8_000) / 1000) * 1000);
    f = await makeFleet(
      { 'playbooks/site.yml': slowCheck, 'inventories/nightly.yml': localInventory(join(dir, 'hosts'), ['n1']) },
      // precheck: always: the check that outlasts the window is what this test is about.
      { config: { reconcile: { mode: 'apply', interval: '1h', precheck: 'always' }, targets: { nightly: { applyWindows: [{ cron: dailyAt(opensAt), duration: '2s' }] } } } },
    );
    await f.fleet.reconciler.idle();
  });

  after(async () => {
    await f?.cleanup();
    removeDir(dir);
  });

  test('drift found by a check asked for inside the window is applied though the window closed during the check', async () => {
    rmSync(join(dir, 'hosts', 'n1', 'app.conf'), { force: true });
    await waitFor('the window to open', () => Date.now() >= opensAt.getTime(), 60_000, 20);
    const { id } = f.fleet.reconcile(['nightly'], { trigger: 'api' })[0]!;
    const [check, apply, verify] = await f.chain(id);
    assert.ok(Date.parse(check!.queuedAt) < opensAt.getTime() + windowMs, `queued inside the window (${check!.queuedAt})`);
    assert.ok(Date.parse(check!.finishedAt!) >= opensAt.getTime() + windowMs, `the check ended after the window closed (${check!.finishedAt})`);
    assert.equal(check!.summary.changed, 1);
    assert.equal(apply?.kind, 'apply', `the check is followed by an apply (target waiting: ${f.fleet.target('nightly').waiting?.detail})`);
    assert.equal(apply!.trigger, 'api');
    assert.equal(apply!.status, 'succeeded');
    assert.equal(verify!.summary.changed, 0);
    assert.equal(f.fleet.target('nightly').waiting, null);
  });

  test('drift found by a check asked for after the window closed waits for the next one, naming it', async () => {
    rmSync(join(dir, 'hosts', 'n1', 'app.conf'), { force: true });
    const { id } = f.fleet.reconcile(['nightly'], { trigger: 'api' })[0]!;
    const chain = await f.chain(id);
    assert.deepEqual(chain.map((run) => [run.kind, run.summary.changed]), [['check', 1]]);
    const next = new Date(opensAt.getTime() + 86_400_000).toISOString();
    assert.deepEqual(f.fleet.target('nightly').waiting, {
      reason: 'window',
      detail: `outside the apply windows; the next opens at ${next} ("${dailyAt(opensAt)}" (UTC) for 2s)`,
      until: next,
    });
  });
});
