import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

describe('per host, per task results', () => {
  let f: TestFleet;
  let sandboxes: string;

  before(async () => {
    sandboxes = tempDir('fleetcd-results-');
    f = await makeFleet({
      'playbooks/site.yml': `- hosts: all
  gather_facts: false
  tasks:
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
    - block:
        - name: risky step
          ansible.builtin.command: /bin/false
          check_mode: false
      rescue:
        - name: recover
          ansible.builtin.debug: { msg: recovered }
    - name: tolerated failure
      ansible.builtin.command: /bin/false
      check_mode: false
      ignore_errors: true
    - name: only on h2
      ansible.builtin.debug: { msg: h2 }
      when: inventory_hostname == 'h2'
`,
      'inventories/lab.yml': localInventory(sandboxes, ['h1', 'h2']),
    });
  });

  after(async () => {
    await f?.cleanup();
    removeDir(sandboxes);
  });

  test('each result keeps status, module, task path, duration; rescued and ignored failures are not failures', async () => {
    const { id } = f.fleet.reconcile(['lab'], { trigger: 'cli', mode: 'check' })[0]!;
    const [run] = await f.chain(id!);
    assert.equal(run!.status, 'succeeded', run!.error ?? '');
    const events = f.fleet.events(run!.id, 0, 100).events.filter((e) => e.host === 'h1');
    const byTask = new Map(events.map((e) => [e.task, e]));
    assert.equal(byTask.get('sandbox')?.status, 'changed');
    assert.equal(byTask.get('sandbox')?.module, 'ansible.builtin.file');
    assert.match(byTask.get('sandbox')?.path ?? '', /playbooks\/site\.yml:4$/);
    assert.ok((byTask.get('sandbox')?.durationMs ?? -1) >= 0);
    assert.deepEqual([byTask.get('risky step')?.status, byTask.get('risky step')?.rescued], ['failed', true]);
    assert.deepEqual([byTask.get('tolerated failure')?.status, byTask.get('tolerated failure')?.ignored], ['failed', true]);
    assert.equal(byTask.get('recover')?.status, 'ok');
    assert.equal(byTask.get('only on h2')?.status, 'skipped');
    assert.equal(byTask.get('only on h2')?.unverified, null, 'a `when` skip is not a check-mode blind spot');
    assert.deepEqual(run!.failures, []);
    const h1 = run!.hosts.find((h) => h.host === 'h1')!;
    assert.deepEqual([h1.failed, h1.rescued, h1.ignored, h1.skipped], [0, 1, 1, 1]);
  });
});
