import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

describe('policies after a check: non-idempotent tasks and checks that cannot see ahead', () => {
  let f: TestFleet;
  let sandboxes: string;

  before(async () => {
    sandboxes = tempDir('fleetcd-idem-');
    f = await makeFleet(
      {
        'playbooks/site.yml': playbook(`
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
    - name: stamp that changes every run
      ansible.builtin.copy: { dest: "{{ host_root }}/stamp", content: "{{ 1000000000 | random }}\\n" }
    - name: restart service
      ansible.builtin.command: /bin/true
`),
        // The second task copies a file the first one creates: check mode cannot see it, so the check fails.
        'playbooks/chained.yml': playbook(`
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
    - name: generate config
      ansible.builtin.copy: { dest: "{{ host_root }}/generated.conf", content: "generated\\n" }
    - name: install generated config
      ansible.builtin.copy: { src: "{{ host_root }}/generated.conf", dest: "{{ host_root }}/live.conf", remote_src: true }
`),
        'inventories/flaky.yml': localInventory(join(sandboxes, 'flaky'), ['h1']),
        'inventories/fresh.yml': localInventory(join(sandboxes, 'fresh'), ['h1']),
        'inventories/fresh-detect.yml': localInventory(join(sandboxes, 'fresh-detect'), ['h1']),
      },
      { config: {
        reconcile: { mode: 'apply' },
        targets: {
          // precheck: always, or the new revision would be applied without the check this test is about.
          fresh: { playbook: 'playbooks/chained.yml', precheck: 'always' },
          'fresh-detect': { playbook: 'playbooks/chained.yml', mode: 'detect' },
        },
      } },
    );
  });

  after(async () => {
    await f?.cleanup();
    removeDir(sandboxes);
  });

  test('a task the verify check still changes is reported as non-idempotent and not applied again on schedule', async () => {
    const { id } = f.fleet.reconcile(['flaky'], { trigger: 'commit' })[0]!;
    const [apply, verify] = await f.chain(id!);
    assert.equal(apply!.kind, 'apply', 'a new revision in apply mode is applied without a precheck');
    assert.equal(apply!.status, 'succeeded');
    assert.deepEqual(verify!.changes.map((c) => c.task), ['stamp that changes every run']);
    const target = f.fleet.target('flaky');
    assert.deepEqual(target.nonIdempotentTasks, ['stamp that changes every run'], 'a skipped command is never called non-idempotent');
    assert.equal(target.status, 'drifted');

    const { id: next } = f.fleet.reconcile(['flaky'], { trigger: 'schedule' })[0]!;
    const chain = await f.chain(next!);
    assert.equal(chain.length, 1, 'the known non-idempotent change is reported, not applied on every interval');
    assert.equal(chain[0]!.summary.changed, 1);
  });

  test('in apply mode a check that fails on a fresh host is followed by an apply that succeeds', async () => {
    const { id } = f.fleet.reconcile(['fresh'], { trigger: 'commit' })[0]!;
    const [check, apply, verify] = await f.chain(id!);
    assert.equal(check!.status, 'failed');
    assert.equal(check!.exitCode, 2);
    assert.ok(check!.failures.some((x) => x.task === 'install generated config' && /generated\.conf/.test(x.message ?? '')));
    assert.equal(apply!.status, 'succeeded', apply!.error ?? '');
    assert.equal(readFileSync(join(sandboxes, 'fresh', 'h1', 'live.conf'), 'utf8'), 'generated\n');
    assert.equal(verify!.summary.changed, 0);
    assert.equal(f.fleet.target('fresh').status, 'in-sync');
  });

  test('in detect mode the same failed check is reported as a failure with Ansible’s message, not as drift', async () => {
    const { id } = f.fleet.reconcile(['fresh-detect'], { trigger: 'commit' })[0]!;
    const chain = await f.chain(id!);
    assert.equal(chain.length, 1);
    assert.equal(chain[0]!.status, 'failed');
    assert.match(chain[0]!.failures[0]?.message ?? '', /generated\.conf/);
    assert.equal(f.fleet.target('fresh-detect').status, 'failed');
    assert.equal(existsSync(join(sandboxes, 'fresh-detect', 'h1')), false, 'detect mode changed nothing');
  });
});
