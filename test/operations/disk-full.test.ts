import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunDetail, RunList } from '../../src/api/schemas.js';
import { freePort, getJson, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { killGroups, processesMentioning } from '../helpers/processes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The state directory on a small tmpfs, filled up by the run itself: the run's next write to the record fails
 * (SQLITE_FULL). The daemon must not go on serving a record it cannot write: one fatal line naming SQLite's
 * error and the run, the run's process group killed, exit 70 (systemd restarts it). Once space is freed, the
 * next start reads the run as interrupted.
 */

const sleepMarker = 'sleep 3173';

describe('a full disk under the state directory during a run', { timeout: 240_000 }, () => {
  let dir: string;
  let mountPoint: string;
  let mounted = false;
  let repo: FleetRepo;
  let configFile: string;
  let base: string;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    dir = tempDir('fleetcd-disk-full-');
    mountPoint = join(dir, 'fs');
    mkdirSync(mountPoint);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint]);
    mounted = true;
    const filler = join(mountPoint, 'filler');
    repo = await createFleetRepo({
      // A process of the run that lives on (detached from the task's pipes, still in the run's group), then a task
      // that fills the file system, then a long pause: the crash, not the playbook, must end the group.
      'playbooks/site.yml': `- hosts: all
  gather_facts: false
  tasks:
    - name: fill the disk
      ansible.builtin.shell: "(${sleepMarker} >/dev/null 2>&1 &); dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; echo filled"
      check_mode: false
    - name: wait
      ansible.builtin.pause: { seconds: 120 }
`,
      'inventories/web.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    configFile = join(dir, 'fleetcd.yaml');
    writeFileSync(
      configFile,
      [`repository: { url: ${repo.origin}, branch: main, pollInterval: 1h }`, `stateDir: ${join(mountPoint, 'state')}`, `api: { listen: "127.0.0.1:${port}" }`, 'reconcile: { mode: detect, interval: 1h }', ''].join('\n'),
    );
  });

  after(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      daemon.child.kill('SIGKILL');
      await daemon.exit();
    }
    try {
      killGroups([...processesMentioning(dir), ...processesMentioning(sleepMarker)].map((p) => p.pgid));
      // Killed processes may hold the mount a moment longer: retry, and detach it lazily as a last resort.
      if (mounted) await waitFor('the tmpfs to unmount', () => spawnSync('umount', [mountPoint]).status === 0, 15_000, 200).catch(() => execFileSync('umount', ['-l', mountPoint]));
    } finally {
      repo?.cleanup();
      removeDir(dir);
    }
  });

  test('exit 70 with one fatal line naming the SQLite error and the run, no process left; after a restart the run is interrupted', async () => {
    daemon = spawnDaemon(configFile);
    const started = daemon;
    const code = await waitFor('the daemon to exit', () => (started.child.exitCode ?? started.child.signalCode ?? undefined), 90_000, 100);
    assert.equal(code, 70, daemon.output());
    const fatal = daemon
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level === 60)
      .map((line) => JSON.parse(line) as { err: string; runId: number; msg: string });
    assert.equal(fatal.length, 1, daemon.output());
    assert.match(fatal[0]!.err, /database or disk is full/);
    assert.match(fatal[0]!.msg, /^the record cannot be written/);
    const runId = fatal[0]!.runId;
    assert.ok(Number.isInteger(runId), 'the line names the run');
    assert.match(fatal[0]!.err, new RegExp(`^run ${runId}: `));
    await waitFor('the run\u2019s processes to be gone', () => processesMentioning(sleepMarker).length === 0 && processesMentioning(mountPoint).length === 0, 10_000, 100);

    rmSync(join(mountPoint, 'filler'));
    // The next revision fills nothing, so the restarted daemon's own start-up check goes through.
    await repo.commit({ 'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n' }, 'calm');
    // The lock file went with the exit; either way the next start is not blocked by it.
    daemon = spawnDaemon(configFile);
    const run = await waitFor('the restarted daemon to answer', () => getJson<RunDetail>(base, `/api/v1/runs/${runId}`), 30_000, 200);
    assert.equal(run.status, 'interrupted');
    const { runs } = await getJson<RunList>(base, '/api/v1/runs');
    assert.ok(runs.some((r) => r.id === runId));
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exit(), 0, daemon.output());
  });
});
