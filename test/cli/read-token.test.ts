import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { localInventory, playbook } from '../helpers/fleet.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The CLI's read verbs against a daemon with api.requireReadToken: they send the token from --token-file,
 * $FLEETCD_TOKEN or the config's api.tokenFile, and without one say how to give it.
 */
describe('fleetcd read verbs against a daemon that wants a token to read', () => {
  let dir: string;
  let repo: FleetRepo;
  let daemon: DaemonProcess;
  let base: string;
  let config: string;
  let missing: string;
  const writeToken = 'cli-read-test-write-token';
  const readToken = 'cli-read-test-read-token';
  /** A call that may only use what it is given: no $FLEETCD_TOKEN from the test's environment. */
  const cli = (env: Record<string, string | undefined>, ...args: string[]) => runCli({ env: { FLEETCD_TOKEN: undefined, ...env } }, ...args);

  before(async () => {
    dir = tempDir('fleetcd-cli-read-token-');
    repo = await createFleetRepo({
      'playbooks/site.yml': playbook('    - ansible.builtin.debug: { msg: hi }\n'),
      'inventories/lab.yml': localInventory(join(dir, 'hosts'), ['one']),
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'api-token'), `${writeToken}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'read-token'), `${readToken}\n`, { mode: 0o600 });
    config = join(dir, 'fleetcd.yaml');
    missing = join(dir, 'no-such-config.yaml');
    writeFileSync(
      config,
      `repository: { url: ${repo.origin}, pollInterval: 1h }\nstateDir: ${join(dir, 'state')}\nreconcile: { mode: detect, interval: 1h }\n` +
        `api: { listen: "127.0.0.1:${port}", tokenFile: ${join(dir, 'api-token')}, requireReadToken: true,\n` +
        `  tokens: [{ name: reader, file: ${join(dir, 'read-token')}, scope: read }] }\n`,
    );
    daemon = spawnDaemon(config);
    await daemon.withOutput(waitFor('the daemon to answer', async () => (await fetch(`${base}/healthz`)).ok, 30_000, 100));
  });

  after(async () => {
    await daemon?.stop();
    repo?.cleanup();
    removeDir(dir);
  });

  test('status works with --token-file (before or after the verb)', () => {
    for (const args of [['status', '--token-file', join(dir, 'read-token')], ['--token-file', join(dir, 'read-token'), 'status']]) {
      const answer = cli({}, ...args, '--server', base, '--config', missing);
      assert.equal(answer.code, 0, answer.err);
      assert.match(answer.out, /^lab\s/m);
    }
  });

  test('status, targets and runs work with $FLEETCD_TOKEN', () => {
    for (const verb of ['status', 'targets', 'runs']) {
      const answer = cli({ FLEETCD_TOKEN: readToken }, verb, '--server', base, '--config', missing);
      assert.equal(answer.code, 0, `${verb}: ${answer.err}`);
    }
  });

  test("status works with the config's api.tokenFile", () => {
    const answer = cli({}, 'status', '--config', config);
    assert.equal(answer.code, 0, answer.err);
    assert.match(answer.out, /^lab\s/m);
  });

  test('without a token, status exits 1 saying the daemon wants one and how to give it', () => {
    const answer = cli({}, 'status', '--server', base, '--config', missing);
    assert.equal(answer.code, 1);
    assert.equal(answer.out, '');
    assert.match(
      answer.err,
      /^fleetcd: missing bearer token \(Authorization: Bearer <token>\); this daemon wants a token to read \(api\.requireReadToken\): pass --token-file <file>, set \$FLEETCD_TOKEN, or set api\.tokenFile in the config \(.*no-such-config\.yaml.*\)\n$/,
    );
  });

  test('a wrong token exits 1 naming where it came from', () => {
    const answer = cli({ FLEETCD_TOKEN: 'not-the-token' }, 'status', '--server', base, '--config', missing);
    assert.equal(answer.code, 1);
    assert.equal(answer.err, 'fleetcd: wrong bearer token; the daemon refused the token from $FLEETCD_TOKEN\n');
  });
});
