import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, getJson, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { processesMentioning } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

type Run = { id: number; status: string; error: string | null };

/** Command lines of live processes that mention `marker`. */
const liveProcesses = (marker: string): string[] => processesMentioning(marker).map((p) => p.args);

describe('the daemon process stops cleanly and recovers the record', () => {
  let dir: string;
  let repo: FleetRepo;
  let configFile: string;
  let base: string;
  let daemon: DaemonProcess | undefined;
  const marker = `sleep 311`;

  before(async () => {
    dir = tempDir('fleetcd-shutdown-');
    repo = await createFleetRepo({
      'playbooks/site.yml': `- hosts: all\n  gather_facts: false\n  tasks:\n    - name: long task\n      ansible.builtin.command: ${marker}\n      check_mode: false\n`,
      'inventories/slow.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    configFile = join(dir, 'fleetcd.yaml');
    writeFileSync(
      configFile,
      [
        `repository: { url: ${repo.origin}, branch: main, pollInterval: 1h }`,
        `stateDir: ${join(dir, 'state')}`,
        `api: { listen: "127.0.0.1:${port}" }`,
        `reconcile: { shutdownGrace: 2s, timeout: 10m }`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    if (daemon && daemon.child.exitCode === null) daemon.child.kill('SIGKILL');
    repo?.cleanup();
    removeDir(dir);
  });

  test('SIGTERM mid-run: the run gets the grace period, is stopped, recorded as interrupted, and leaves no process', async () => {
    daemon = spawnDaemon(configFile);
    const running = await waitFor('the startup run to be running', async () => {
      const { runs } = await getJson<{ runs: Run[] }>(base, '/api/v1/runs');
      return runs.find((r) => r.status === 'running');
    });
    await waitFor('ansible to run the long task', async () => (liveProcesses(marker).length > 0 ? true : undefined), 20_000);
    const stoppedAt = Date.now();
    daemon.child.kill('SIGTERM');
    const code = await daemon.exit();
    const tookMs = Date.now() - stoppedAt;
    assert.equal(code, 0, daemon.output());
    assert.ok(tookMs >= 1900, `the run had its 2 s grace (stopped after ${tookMs} ms)`);
    assert.ok(tookMs < 15_000, `stopped within grace + kill delay (${tookMs} ms)`);
    assert.deepEqual(liveProcesses(marker), []);
    assert.deepEqual(liveProcesses('ansible-playbook').filter((l) => l.includes(dir)), []);

    daemon = spawnDaemon(configFile);
    const run = await waitFor('the restarted daemon to answer', () => getJson<Run>(base, `/api/v1/runs/${running.id}`));
    assert.equal(run.status, 'interrupted');
    assert.match(run.error ?? '', /fleetcd stopped/);
  });

  test('SIGKILL mid-run: the run’s processes go with the daemon, the next start marks it interrupted and keeps every finished run', async () => {
    const before = await waitFor('a running run', async () => {
      const { runs } = await getJson<{ runs: Run[] }>(base, '/api/v1/runs');
      return runs.find((r) => r.status === 'running') && liveProcesses(marker).length > 0 ? runs : undefined;
    });
    daemon!.child.kill('SIGKILL');
    await daemon!.exit();
    // The watchdog in the run's process group kills it when the daemon's end of its socket closes (issue 16:
    // within 5 s; the bound here allows for a loaded machine). The restart's reaping is the second line
    // (test/operations/daemon-death.test.ts).
    await waitFor('the run’s processes to go with the daemon', () => liveProcesses(marker).length === 0, 10_000, 50);
    daemon = spawnDaemon(configFile);
    const after = await waitFor('the restarted daemon to answer', () => getJson<{ runs: Run[] }>(base, '/api/v1/runs'));
    for (const old of before) {
      const now = after.runs.find((r) => r.id === old.id);
      assert.ok(now, `run ${old.id} is still recorded`);
      if (old.status === 'running') assert.equal(now.status, 'interrupted');
      else assert.equal(now.status, old.status);
    }
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exit(), 0);
  });
});
