import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { Notifier } from '../../src/notify/index.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { startReceivers, type Receivers } from './receivers.js';

/*
 * No flapping signals: a target whose playbook has one task that always changes (a stamp with random content),
 * applied and then checked on a short schedule by a real fleet, told to real loopback receivers.
 */

const stamped = playbook(`
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
    - name: stamp that changes every run
      ansible.builtin.copy: { dest: "{{ host_root }}/stamp", content: "{{ 1000000000 | random }}\\n" }
`);
const nonIdempotent = 'stamp that changes every run';

describe('a non-idempotent task on a schedule', { timeout: 240_000 }, () => {
  let f: TestFleet;
  let r: Receivers;
  let notifier: Notifier;
  let dir: string;

  before(async () => {
    dir = tempDir('fleetcd-flap-');
    r = await startReceivers();
    f = await makeFleet(
      { 'playbooks/site.yml': stamped, 'inventories/flaky.yml': localInventory(join(dir, 'hosts'), ['h1']) },
      {
        config: {
          // precheck: always: the drift a check finds before the apply is one of the notifications this test counts.
          reconcile: { mode: 'apply', interval: '2s', jitter: '0%', precheck: 'always' },
          notifications: [
            { name: 'hooks', url: r.answering.url('/json'), events: ['drift', 'failed', 'recovered', 'applied'], format: 'json' },
            { name: 'chat', url: r.answering.url('/slack'), events: ['drift', 'failed', 'recovered', 'applied'], format: 'slack' },
          ],
        },
      },
    );
    notifier = new Notifier(f.config, { db: f.db, log: pino({ level: 'silent' }), fleet: f.fleet, policy: { timeoutMs: 5_000, attempts: 1, firstBackoffMs: 1_000, maxWaiting: 100 } });
    notifier.watch(f.fleet.changes);
  });

  after(async () => {
    notifier?.stop();
    await f?.cleanup();
    await r?.close();
    removeDir(dir);
  });

  test('sends drift, applied and recovered once (after the verify), then nothing over three scheduled checks; every body carries the problem', async () => {
    const { id } = f.fleet.reconcile(['flaky'], { trigger: 'commit' })[0]!;
    const [check, apply, verify] = await f.chain(id);
    assert.equal(apply?.kind, 'apply');
    assert.deepEqual(verify!.changes.map((c) => c.task), [nonIdempotent], 'the verify check established the task as non-idempotent');
    const scheduled = await waitFor('three scheduled checks after the verify', () => {
      const runs = f.store.list({ target: 'flaky', limit: 50 }).filter((run) => run.trigger === 'schedule' && run.finishedAt && run.id > verify!.id);
      return runs.length >= 3 && runs;
    }, 120_000, 200);
    for (const run of scheduled) assert.equal(run.summary.changed, 1, `scheduled check #${run.id} still finds the stamp changing`);
    await waitFor('every delivery to end', () => notifier.recent(100).every((d) => d.status !== 'pending'), 20_000, 50);

    const told = r.answering.at('/json').map((g) => [g.json.event, (g.json.run as { id: number }).id]);
    assert.deepEqual(told, [
      ['drift', check!.id],
      ['applied', apply!.id],
      ['recovered', verify!.id],
    ]);
    const recovered = r.answering.at('/json').find((g) => g.json.event === 'recovered')!;
    assert.ok(recovered.receivedAt >= Date.parse(verify!.finishedAt!), 'recovered arrives after the verify run finished');
    assert.equal(recovered.json.problem, `in sync but for 1 task known to be non-idempotent: ${nonIdempotent}`);

    for (const got of r.answering.at('/json')) {
      if (got.json.event === 'applied') continue;
      assert.ok(typeof got.json.problem === 'string' && got.json.problem.length > 0, `${String(got.json.event)} carries a problem`);
      assert.ok(!String(got.json.problem).includes('\n'), 'on one line');
    }
    assert.equal(r.answering.at('/json')[0]!.json.problem, `drift in sandbox, ${nonIdempotent}`);
    const slack = r.answering.at('/slack').map((g) => String(g.json.text));
    assert.equal(slack.length, 3);
    assert.match(slack[0]!, new RegExp(`^\\*flaky\\* drifted: 1 host would change \\(check run #${check!.id}\\) — drift in sandbox, ${nonIdempotent} <`));
    assert.match(slack[2]!, new RegExp(`^\\*flaky\\* is back in sync \\(check run #${verify!.id}\\) — in sync but for 1 task known to be non-idempotent: ${nonIdempotent} <`));
  });
});
