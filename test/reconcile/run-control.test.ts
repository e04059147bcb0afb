import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FleetError } from '../../src/errors.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { processesMentioning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

describe('run control: timeouts, cancellation, queueing', () => {
  let f: TestFleet;

  before(async () => {
    f = await makeFleet(
      {
        'playbooks/site.yml': playbook(`
    - name: touch
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
`),
        'playbooks/slow.yml': playbook(`
    - name: wait a long time
      ansible.builtin.command: sleep 300
      check_mode: false
`),
        'playbooks/broken.yml': '- hosts: all\n  tasks:\n    - name: bad\n      ansible.builtin.copy: [this is not valid\n',
        'inventories/fast.yml': localInventory('/tmp/fleetcd-run-control-unused', ['a']),
        'inventories/other.yml': localInventory('/tmp/fleetcd-run-control-unused', ['b']),
        'inventories/slow.yml': localInventory('/tmp/fleetcd-run-control-unused', ['s']),
        'inventories/broken.yml': localInventory('/tmp/fleetcd-run-control-unused', ['x']),
      },
      { config: {
        reconcile: { concurrency: 1, timeout: '30m' },
        targets: {
          slow: { playbook: 'playbooks/slow.yml', timeout: '3s' },
          broken: { playbook: 'playbooks/broken.yml' },
        },
      } },
    );
  });

  after(async () => {
    await f?.cleanup();
  });

  test('a run over its timeout is killed with its whole process tree and recorded as timed-out', async () => {
    const { id } = f.fleet.reconcile(['slow'], { trigger: 'cli', mode: 'check' })[0]!;
    const [run] = await f.chain(id!);
    assert.equal(run!.status, 'timed-out');
    assert.match(run!.error ?? '', /timeout of 3s/);
    // The task's `sleep 300` mentions no path of ours: wait for it apart. A SIGKILLed process on a busy machine
    // can take a moment to be scheduled and exit; one that escaped the group kill would stay for 300 s.
    await waitFor('the process tree to be gone', () => processesMentioning(f.root).length === 0 && processesMentioning('sleep 300').length === 0, 10_000);
    assert.equal(f.fleet.target('slow').status, 'failed');
  });

  test('cancelling a running run stops it and records it as cancelled', async () => {
    const { id } = f.fleet.reconcile(['slow'], { trigger: 'api', mode: 'check' })[0]!;
    await waitFor('the run to start', () => f.fleet.run(id!).status === 'running', 20_000);
    await waitFor('ansible to start its task', () => processesMentioning('sleep 300').length > 0, 20_000);
    f.fleet.cancel(id!);
    const [run] = await f.chain(id!);
    assert.equal(run!.status, 'cancelled');
    await waitFor('the process tree to be gone', () => processesMentioning(f.root).length === 0, 10_000);
    assert.throws(() => f.fleet.cancel(id!), /only queued or running runs can be cancelled/);
  });

  test('with concurrency 1, a queued run waits; requests for a queued target join it; a queued run can be cancelled', async () => {
    const first = f.fleet.reconcile(['fast'], { trigger: 'api', mode: 'check' });
    const second = f.fleet.reconcile(['other'], { trigger: 'api', mode: 'check' });
    const third = f.fleet.reconcile(['broken', 'other'], { trigger: 'schedule', mode: 'check' });
    assert.equal(third[1]!.id, second[0]!.id, 'a request for a queued target joins its run');
    assert.equal(f.fleet.run(third[0]!.id).status, 'queued');
    f.fleet.cancel(third[0]!.id);
    await f.fleet.reconciler.idle();
    const [a, b, c] = [first[0]!.id, second[0]!.id, third[0]!.id].map((id) => f.fleet.run(id));
    assert.equal(a!.status, 'succeeded');
    assert.equal(b!.status, 'succeeded');
    assert.equal(c!.status, 'cancelled');
    assert.equal(c!.startedAt, null);
    assert.ok(b!.startedAt! >= a!.finishedAt!, 'with concurrency 1 the second run starts after the first ends');
  });

  test('a broken playbook fails its target with Ansible’s message while other targets go on', async () => {
    const runs = f.fleet.reconcile(['broken', 'fast'], { trigger: 'api', mode: 'check' });
    await f.fleet.reconciler.idle();
    const broken = f.fleet.run(runs[0]!.id);
    const fast = f.fleet.run(runs[1]!.id);
    assert.equal(broken.status, 'failed');
    assert.match(broken.error ?? '', /ansible-playbook failed: .*(Syntax Error|yaml|YAML)/s);
    assert.match(broken.error ?? '', /broken\.yml/);
    assert.equal(fast.status, 'succeeded');
    assert.equal(f.fleet.target('broken').status, 'failed');
    assert.equal(f.fleet.target('fast').status, 'drifted', 'its sandbox does not exist yet: drift, not failure');
  });

  test('a request naming a target the revision does not have is refused, naming it, and queues nothing', () => {
    const before = f.fleet.runs({ limit: 500 }).length;
    assert.throws(
      () => f.fleet.reconcile(['fast', 'ghost'], { trigger: 'api' }),
      (error: unknown) => error instanceof FleetError && error.reason === 'not-found' && error.message === 'unknown target: ghost',
    );
    assert.equal(f.fleet.runs({ limit: 500 }).length, before, 'not even the known target was queued');
  });
});
