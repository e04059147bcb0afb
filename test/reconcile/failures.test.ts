import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { processesMentioning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';

/*
 * What goes wrong around Ansible rather than inside a playbook: an inventory that yields no host, a program
 * that cannot start, a log that cannot be written, a galaxy install that hangs. Each is a run with a clear
 * error, never a green, and never a daemon that goes down or waits for the run timeout.
 */

/** A playbook of one debug task over all hosts. */
const hello = playbook(`
    - name: hello
      ansible.builtin.debug: { msg: hi }
`);

const hostsIni = 'cache1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n';

describe('a target whose inventory yields no host', () => {
  let f: TestFleet;

  before(async () => {
    f = await makeFleet({
      'playbooks/site.yml': hello,
      // Ansible ignores .ini files inside an inventory folder (inventory_ignore_extensions).
      'inventories/cache/hosts.ini': hostsIni,
      'inventories/shared.yml': localInventory('/tmp/fleetcd-unused', ['web1']),
      'playbooks/shared.yml': `${hello}\n- name: databases\n  hosts: db\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: db }\n`,
    }, { config: { targets: { shared: { playbook: 'playbooks/shared.yml' } } } });
  });

  after(() => f.cleanup());

  test('is a failed run naming the inventory and Ansible’s warning, and the target says so, never in sync', async () => {
    const { id } = f.fleet.reconcile(['cache'], { trigger: 'api', mode: 'check' })[0]!;
    const [run] = await f.chain(id);
    assert.equal(run!.status, 'failed');
    assert.equal(run!.summary.hosts, 0);
    assert.match(run!.error ?? '', /^inventory inventories\/cache has no hosts \(Ansible: Unable to parse .*inventories\/cache as an inventory source\)$/);
    assert.ok(run!.warnings.some((w) => /provided hosts list is empty/.test(w)), run!.warnings.join('\n'));
    const target = f.fleet.target('cache');
    assert.equal(target.status, 'failed');
    assert.match(target.problem ?? '', /inventory inventories\/cache has no hosts/);
  });

  test('a play of a shared playbook that matches nothing is a warning on a run that succeeds', async () => {
    const { id } = f.fleet.reconcile(['shared'], { trigger: 'api', mode: 'check' })[0]!;
    const [run] = await f.chain(id);
    assert.equal(run!.status, 'succeeded', run!.error ?? '');
    assert.ok(run!.warnings.some((w) => /Could not match supplied host pattern, ignoring: db/.test(w)), run!.warnings.join('\n'));
    assert.equal(f.fleet.target('shared').status, 'in-sync');
  });
});

describe('programs that cannot start and logs that cannot be written', () => {
  let f: TestFleet;
  const path = process.env.PATH;

  before(async () => {
    f = await makeFleet({
      'playbooks/site.yml': hello,
      'inventories/web.yml': localInventory('/tmp/fleetcd-unused', ['web1']),
    });
  });

  after(async () => {
    process.env.PATH = path;
    await f.cleanup();
  });

  test('ansible-playbook missing from PATH fails the run with the command and the reason', async () => {
    process.env.PATH = '/nonexistent-bin';
    try {
      const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
      const [run] = await f.chain(id);
      assert.equal(run!.status, 'failed');
      assert.equal(run!.error, 'ansible-playbook: not found on PATH (/nonexistent-bin)');
    } finally {
      process.env.PATH = path;
    }
  });

  test('a run log that cannot be written fails that run with the reason; the next run works', async () => {
    const next = f.store.list({ limit: 1 })[0]!.id + 1;
    // A directory where the log file should be: opening it for writing fails (EISDIR), even for root.
    mkdirSync(join(f.stateDir, 'logs', `run-${next}.log`), { recursive: true });
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    assert.equal(id, next);
    const [run] = await f.chain(id);
    assert.equal(run!.status, 'failed');
    assert.match(run!.error ?? '', /^cannot write the run log .*run-\d+\.log: .*EISDIR/);
    const again = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    assert.equal((await f.chain(again.id))[0]!.status, 'succeeded');
  });
});

/** A TCP server on loopback that accepts connections and never answers: a galaxy server that hangs. */
async function hangingServer(): Promise<{ server: Server; port: number; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    server,
    port: address.port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('a requirements.yml install that hangs', () => {
  let f: TestFleet;
  let galaxy: Awaited<ReturnType<typeof hangingServer>>;

  before(async () => {
    galaxy = await hangingServer();
    f = await makeFleet(
      {
        'playbooks/site.yml': hello,
        'inventories/web.yml': localInventory('/tmp/fleetcd-unused', ['web1']),
        'requirements.yml': `collections:\n  - name: example.hang\n    source: http://127.0.0.1:${galaxy.port}/\n`,
      },
      { config: { reconcile: { shutdownGrace: '1s' } } },
    );
  });

  after(async () => {
    await f.cleanup();
    galaxy.close();
  });

  test('is stopped by a cancel at once: the run ends cancelled and ansible-galaxy is gone', async () => {
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    await waitFor('ansible-galaxy to run', () => processesMentioning('ansible-galaxy').some((p) => p.args.includes(f.root)), 30_000);
    const cancelledAt = Date.now();
    f.fleet.cancel(id);
    const [run] = await f.chain(id);
    assert.equal(run!.status, 'cancelled');
    assert.ok(Date.now() - cancelledAt < 10_000, 'the cancel did not wait for the run timeout');
  });

  test('is stopped by a shutdown within the grace: the run ends interrupted and ansible-galaxy is gone', async () => {
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    await waitFor('ansible-galaxy to run', () => processesMentioning('ansible-galaxy').some((p) => p.args.includes(f.root)), 30_000);
    await f.fleet.stop(1000);
    assert.equal(f.fleet.run(id).status, 'interrupted');
    await waitFor('ansible-galaxy to be gone', () => !processesMentioning('ansible-galaxy').some((p) => p.args.includes(f.root)), 10_000);
  });
});
