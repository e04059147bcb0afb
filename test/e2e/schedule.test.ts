import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, getJson, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { waitFor } from '../helpers/wait.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

type Status = { revision: { sha: string } | null; source: { error: string | null }; targets: Array<{ name: string }> };
type Run = { id: number; trigger: string; status: string; revision: string };

describe('the daemon keeps serving without its repository, then checks on schedule', () => {
  let dir: string;
  let repo: FleetRepo;
  let daemon: DaemonProcess;
  let base: string;
  let url: string;
  let config: string;

  before(async () => {
    dir = tempDir('fleetcd-schedule-');
    repo = await createFleetRepo({
      'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n',
      'inventories/lab.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
    });
    // The daemon starts while nothing is at its repository URL yet.
    url = join(dir, 'fleet.git');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    config = join(dir, 'fleetcd.yaml');
    writeFileSync(
      config,
      `repository: { url: ${url}, pollInterval: 1h }\nstateDir: ${join(dir, 'state')}\napi: { listen: "127.0.0.1:${port}" }\nreconcile: { interval: 2s }\n`,
    );
    daemon = spawnDaemon(config);
  });

  after(async () => {
    await daemon.stop();
    repo.cleanup();
    removeDir(dir);
  });

  test('an unreachable repository is reported in source.error while the API serves; it is retried with backoff', async () => {
    const status = await waitFor('a failed first fetch', async () => {
      const s = await getJson<Status>(base, '/api/v1/status');
      return s.source.error ? s : undefined;
    }, 20_000);
    assert.equal(status.revision, null);
    assert.match(status.source.error!, /fleet\.git/);
    assert.deepEqual(status.targets, []);
    // The repository appears; the retry (2 s, 4 s, …, not the 1 h poll) picks it up.
    renameSync(repo.origin, url);
    const recovered = await waitFor('the retried fetch', async () => {
      const s = await getJson<Status>(base, '/api/v1/status');
      return s.revision ? s : undefined;
    }, 30_000);
    assert.equal(recovered.revision!.sha, repo.head());
    assert.equal(recovered.source.error, null);
  });

  test('a one-shot check on the daemon\'s state directory asks the daemon while it runs', async () => {
    // POSTs need the API token: give the running daemon one (SIGHUP reloads the config), then ask.
    const loadedAt = async (): Promise<string> => (await getJson<{ config: { loadedAt: string } }>(base, '/api/v1/status')).config.loadedAt;
    const loadedBefore = await loadedAt();
    writeFileSync(join(dir, 'api-token'), 'schedule-test-token\n', { mode: 0o600 });
    writeFileSync(config, readFileSync(config, 'utf8').replace(/^api: \{ (.*) \}$/m, `api: { $1, tokenFile: ${join(dir, 'api-token')} }`));
    daemon.child.kill('SIGHUP');
    await waitFor('the reloaded config', async () => (await loadedAt()) !== loadedBefore, 10_000);
    const result = runCli('check', '--config', config);
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.err, /belongs to fleetcd serve \(pid \d+\): asking it at http:\/\/127\.0\.0\.1:\d+ to check/);
    assert.match(result.out, new RegExp(`^revision ${repo.head()} \\(main\\): initial fleet$`, 'm'));
    assert.match(result.out, /^run #\d+ check of lab at \w{12}: succeeded \(hosts 1, ok 1, changed 0,/m);
  });

  test('with nothing committed, the drift interval keeps checking', async () => {
    const runs = await waitFor('two scheduled checks', async () => {
      const { runs } = await getJson<{ runs: Run[] }>(base, '/api/v1/runs?target=lab');
      const scheduled = runs.filter((r) => r.trigger === 'schedule' && r.status === 'succeeded');
      return scheduled.length >= 2 ? runs : undefined;
    }, 60_000);
    assert.ok(runs.some((r) => r.trigger === 'startup'), 'the first reconcile after the first good fetch is the startup one');
    assert.ok(runs.every((r) => r.revision === repo.head()));
  });
});
