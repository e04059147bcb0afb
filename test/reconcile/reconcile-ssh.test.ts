import assert from 'node:assert/strict';
import { processesMentioning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inventoryYaml, startSshHosts, type SshHosts } from '../helpers/sshd.js';
import { makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

// Real ansible-playbook over SSH to two sshd hosts on 127.0.0.1 plus one host where nothing listens.
const tasks = `
    - name: sandbox etc
      ansible.builtin.file: { path: "{{ host_root }}/etc", state: directory, mode: "0755" }
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/etc/app.conf", content: "version {{ app_version }}\\n", mode: "0644" }
    - name: reload app
      ansible.builtin.command: /bin/true
    - name: probe for real
      ansible.builtin.stat: { path: "{{ host_root }}/etc" }
      check_mode: false
    - name: optional step
      ansible.builtin.command: /bin/false
      ignore_errors: true
      changed_when: false
      check_mode: false
`;

describe('reconcile over SSH', () => {
  let ssh: SshHosts;
  let sandboxes: string;
  let fleet: TestFleet;

  before(async () => {
    ssh = await startSshHosts(2);
    sandboxes = tempDir('fleetcd-sandboxes-');
    const inventory = inventoryYaml(ssh.hosts, {
      hostRoot: (name) => join(sandboxes, name),
      keyFile: ssh.keyFile,
      knownHostsFile: ssh.knownHostsFile,
      unreachable: true,
      unreachablePort: ssh.unreachablePort,
    });
    fleet = await makeFleet(
      {
        'playbooks/site.yml': playbook(tasks),
        'playbooks/slow.yml': playbook('    - name: hang\n      ansible.builtin.command: sleep 307\n      check_mode: false\n'),
        'inventories/prod.yml': inventory,
        'inventories/slow.yml': inventory,
        'inventories/group_vars/all.yml': 'app_version: 1\n',
      },
      { config: { targets: { prod: { mode: 'apply' }, slow: { playbook: 'playbooks/slow.yml', timeout: '4s', limit: 'host1' } } } },
    );
  });

  after(async () => {
    await fleet?.cleanup();
    await ssh?.stop();
    removeDir(sandboxes);
  });

  test('a check of fresh hosts finds drift per host, reports the unreachable host apart, and counts unverifiable tasks', async () => {
    const { id } = fleet.fleet.reconcile(['prod'], { trigger: 'cli', mode: 'check' })[0]!;
    const [check, ...rest] = await fleet.chain(id!);
    assert.equal(rest.length, 0, 'a check-only reconcile never applies');
    assert.equal(check!.status, 'succeeded', check!.error ?? '');
    assert.equal(check!.exitCode, 4, 'ansible exits 4 when a host is unreachable');
    assert.equal(check!.summary.hosts, 3);
    assert.equal(check!.summary.unreachable, 1);
    const byHost = new Map(check!.hosts.map((h) => [h.host, h]));
    assert.equal(byHost.get('ghost')?.unreachable, 1);
    assert.equal(byHost.get('ghost')?.changed, 0, 'unreachable is never drift');
    for (const host of ['host1', 'host2']) {
      assert.equal(byHost.get(host)?.changed, 2, `${host}: directory and config file would change`);
      assert.equal(byHost.get(host)?.ignored, 1, `${host}: the ignored failure is counted as ignored`);
      assert.equal(byHost.get(host)?.failed, 0);
    }
    const changed = check!.changes.map((c) => `${c.host}:${c.task}`).sort();
    assert.deepEqual(changed, ['host1:app config', 'host1:sandbox etc', 'host2:app config', 'host2:sandbox etc']);
    const diff = check!.changes.find((c) => c.task === 'app config')!.diff![0] as { after: string };
    assert.equal(diff.after, 'version 1\n');
    // ssh says "Connection refused", or under load sometimes "Broken pipe": either way, a message from ssh.
    assert.ok(check!.failures.some((f) => f.host === 'ghost' && /Connection refused|Broken pipe|ssh/i.test(f.message ?? '')));
    assert.ok(!check!.failures.some((f) => f.task === 'optional step'), 'ignored failures are not failures');
    const coverage = check!.coverage!;
    assert.deepEqual(coverage.unverified.map((u) => u.task).sort(), ['optional step', 'probe for real', 'reload app']);
    assert.equal(coverage.tasks, 5);
    assert.match(coverage.text, /^drift checked on 2 of 5 tasks; 3 unverifiable: /);
    assert.equal(existsSync(join(sandboxes, 'host1', 'etc', 'app.conf')), false, 'check mode changed nothing');
    const target = fleet.fleet.target('prod');
    assert.equal(target.status, 'unreachable');
    assert.deepEqual(
      target.hosts.map((h) => [h.name, h.status, h.changedTasks]),
      [['ghost', 'unreachable', 0], ['host1', 'drifted', 2], ['host2', 'drifted', 2]],
    );
  });

  test('apply mode applies a never-applied revision to every host at once, then a verify check finds it in sync', async () => {
    const { id } = fleet.fleet.reconcile(['prod'], { trigger: 'api' })[0]!;
    const [apply, verify, ...rest] = await fleet.chain(id!);
    assert.equal(rest.length, 0);
    assert.equal(apply!.id, id, 'the run the request was answered with is the apply: no check ran first (precheck: auto)');
    assert.equal(apply!.followedBy, verify!.id);
    assert.equal(apply!.kind, 'apply');
    // What the apply really did, commands too (a check skips them).
    assert.deepEqual(apply!.changes.map((c) => `${c.host}:${c.task}`).sort(), [
      'host1:app config', 'host1:reload app', 'host1:sandbox etc', 'host2:app config', 'host2:reload app', 'host2:sandbox etc',
    ]);
    assert.equal((apply!.changes.find((c) => c.host === 'host2' && c.task === 'app config')!.diff![0] as { after: string }).after, 'version 1\n');
    assert.equal(apply!.limit, null, 'a revision never applied goes to all hosts');
    assert.equal(apply!.status, 'succeeded', apply!.error ?? '');
    assert.equal(apply!.trigger, 'api');
    assert.equal(readFileSync(join(sandboxes, 'host2', 'etc', 'app.conf'), 'utf8'), 'version 1\n');
    assert.equal(verify!.kind, 'check');
    assert.equal(verify!.summary.changed, 0);
    assert.deepEqual(fleet.fleet.target('prod').nonIdempotentTasks, []);
  });

  test('a run over its timeout leaves no ansible-playbook, ssh client or control master behind', async () => {
    const { id } = fleet.fleet.reconcile(['slow'], { trigger: 'cli', mode: 'check' })[0]!;
    const [run] = await fleet.chain(id!);
    assert.equal(run!.status, 'timed-out');
    const controlDir = join(fleet.stateDir, 'work', 'ssh', 'slow');
    const leftovers = (): string[] => [...processesMentioning(controlDir), ...processesMentioning(fleet.root)].map((p) => p.args);
    await waitFor('nothing of the run left', () => leftovers().length === 0, 5000).catch(() => undefined);
    assert.deepEqual(leftovers(), []);
    // The command on the managed host is not ours to kill: like a Ctrl-C of ansible-playbook, it runs on
    // there (see README). This host is also the test's managed host (its sshd), so end it here.
    ssh.endSessions();
  });

  test('drift on one host is applied to that host only', async () => {
    writeFileSync(join(sandboxes, 'host2', 'etc', 'app.conf'), 'hand edited\n');
    const { id } = fleet.fleet.reconcile(['prod'], { trigger: 'schedule' })[0]!;
    const [check, apply, verify] = await fleet.chain(id!);
    assert.deepEqual(check!.changes.map((c) => `${c.host}:${c.task}`), ['host2:app config']);
    const diff = check!.changes[0]!.diff![0] as { before: string; after: string };
    assert.equal(diff.before, 'hand edited\n');
    assert.equal(apply!.limit, 'host2');
    assert.deepEqual(apply!.hosts.map((h) => h.host), ['host2']);
    assert.equal(readFileSync(join(sandboxes, 'host2', 'etc', 'app.conf'), 'utf8'), 'version 1\n');
    assert.equal(verify!.summary.changed, 0);
    assert.equal(fleet.fleet.target('prod').hosts.find((h) => h.name === 'host2')?.status, 'in-sync');
  });
});
