import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from '../../src/store/sqlite.js';
import type { RunList } from '../../src/api/schemas.js';
import { processesMentioning } from '../helpers/processes.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { inventoryYaml, startSshHosts, type SshHosts } from '../helpers/sshd.js';
import { waitFor } from '../helpers/wait.js';

/*
 * kill -9 of the daemon in the middle of an apply over SSH, then a restart: the run is interrupted, nothing of
 * it is left on the ops host (ansible-playbook, ssh clients, control masters), the record is intact and the next
 * reconcile converges. Then SIGHUP with a valid config and with an invalid one.
 */

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "managed\\n" }
    - name: a long step, once
      ansible.builtin.shell: sleep 313 && touch "{{ host_root }}/slept"
      args: { creates: "{{ host_root }}/slept" }
`;

const pauser = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.pause: { seconds: 3 }
`;

describe('crash safety and config reload on a running daemon', { timeout: 300_000 }, () => {
  let hosts: SshHosts;
  let d: RunningDaemon;
  let root: string;
  const config = (extra = '') =>
    ['reconcile: { mode: detect, interval: 1h, concurrency: 2 }', 'targets:', '  slow: { mode: apply }', '  pause: { playbook: playbooks/pause.yml }', extra].join('\n');

  before(async () => {
    root = join('/tmp', `fleetcd-crash-${process.pid}`);
    hosts = await startSshHosts(1);
    mkdirSync(join(root, 'host1'), { recursive: true });
    const inventory = inventoryYaml(hosts.hosts, { hostRoot: (name) => join(root, name), keyFile: hosts.keyFile, knownHostsFile: hosts.knownHostsFile });
    d = await startDaemonFleet(
      {
        'playbooks/site.yml': playbook,
        'playbooks/pause.yml': pauser,
        'inventories/slow.yml': inventory,
        'inventories/pause.yml': 'all:\n  hosts:\n    p1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
      },
      config(),
    );
  });

  after(async () => {
    await d?.cleanup();
    hosts?.endSessions();
    await hosts?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('kill -9 during an apply, then a restart: interrupted, no orphan, integrity ok, and the next reconcile converges', async () => {
    const apply = await waitFor('the apply to be in its long step', async () => {
      const { runs } = await d.get<RunList>('/api/v1/runs?target=slow');
      const running = runs.find((r) => r.kind === 'apply' && r.status === 'running');
      // This test's own long step (its host_root is in the command): another run's `sleep 313` says nothing of this one.
      return running && processesMentioning('sleep 313').some((p) => p.args.includes(root)) ? running : undefined;
    }, 60_000, 200);
    const finishedBefore = (await d.get<RunList>('/api/v1/runs?limit=500')).runs.filter((r) => r.finishedAt);
    const ours = (): string[] => processesMentioning(d.stateDir).map((p) => p.args);
    assert.ok(ours().some((args) => args.includes('ansible-playbook')), 'ansible-playbook runs under the state dir');

    await d.kill9();
    // The run's process group dies with the daemon (its watchdog); the ssh control master, in a session of
    // its own, stays until the restart closes it.
    const left = await waitFor('the dead daemon’s ansible-playbook to go by itself', () => {
      const now = processesMentioning(d.stateDir);
      return now.some((p) => p.args.includes('ansible-playbook')) ? undefined : now;
    }, 10_000, 50);
    assert.ok(left.some((p) => /ControlPersist|\[mux\]/.test(p.args)), 'an ssh control master is left');
    // The long step has done its part; the next apply need not wait for it.
    writeFileSync(join(root, 'host1', 'slept'), '');
    await d.restart();

    const alive = new Set(processesMentioning(d.stateDir).map((p) => p.pid));
    assert.deepEqual(
      left.filter((p) => alive.has(p.pid)).map((p) => p.args),
      [],
      'the restart closed the old run’s ssh control masters',
    );
    const run = await d.run(apply.id);
    assert.equal(run.status, 'interrupted');
    const after = (await d.get<RunList>('/api/v1/runs?limit=500')).runs;
    for (const old of finishedBefore) assert.deepEqual(after.find((r) => r.id === old.id), old, `finished run #${old.id} is intact`);
    const db = new Database(join(d.stateDir, 'fleetcd.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
    const slow = await waitFor('slow to converge', async () => {
      const t = await d.target('slow');
      return !t.running && t.lastApplyAt && t.status === 'in-sync' ? t : undefined;
    }, 60_000, 200);
    assert.deepEqual(slow.hosts.map((h) => [h.name, h.status]), [["host1", "in-sync"]]);
    hosts.endSessions();
  });

  test('SIGHUP with a valid config applies it without stopping a run in flight', async () => {
    const before = await d.status();
    const { runs } = await d.reconcile({ targets: ['pause'], mode: 'check' });
    await waitFor('the pause run to run', async () => (await d.run(runs[0]!.id)).status === 'running', 30_000, 100);
    d.writeConfig(config().replace('slow: { mode: apply }', 'slow: { mode: detect }'));
    d.process.child.kill('SIGHUP');
    const reloaded = await waitFor('the reload', async () => {
      const s = await d.status();
      return s.config.loadedAt !== before.config.loadedAt ? s : undefined;
    }, 10_000, 100);
    assert.equal(reloaded.targets.find((t) => t.name === 'slow')?.mode, 'detect');
    const run = await d.finished(runs[0]!.id);
    assert.equal(run.status, 'succeeded', 'the run in flight finished');
  });

  test('SIGHUP with an invalid config is logged with the key and the problem, and the old config stays', async () => {
    const before = await d.status();
    d.writeConfig(config('  pause: { mode: sometimes }').replace("  pause: { playbook: playbooks/pause.yml }\n", ''));
    d.process.child.kill('SIGHUP');
    await waitFor('the refusal in the log', () => d.process.output().includes('config reload refused'), 10_000, 100);
    const line = d.process.output().split('\n').find((l) => l.includes('config reload refused'))!;
    assert.match(line, /targets\.pause\.mode: must be one of detect, apply, got \\"sometimes\\"/);
    const after = await d.status();
    assert.equal(after.config.loadedAt, before.config.loadedAt);
    assert.equal(d.process.child.exitCode, null, 'the daemon is still running');
    assert.equal(after.targets.find((t) => t.name === 'pause')?.mode, 'detect');
  });
});
