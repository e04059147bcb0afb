import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Comparison, StatusView, TargetView } from '../../src/api/schemas.js';
import { freePort, getJson, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * `fleetcd compare` and the `checking` column against a real daemon process. Both targets are in detect mode
 * with a playbook that changes nothing, so each clean check shows what the hosts match (issue 17); production
 * is suspended, so a new commit is checked by staging only and the two run different revisions.
 */

const site = '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: say hello\n      ansible.builtin.debug: { msg: hello }\n';
const inventory = (host: string): string => `all:\n  hosts:\n    ${host}: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n`;

describe('fleetcd compare against a running daemon', { timeout: 300_000 }, () => {
  let dir: string;
  let repo: FleetRepo;
  let daemon: DaemonProcess;
  let base: string;
  let config: string;
  const cli = (...args: string[]) => runCli(...args, '--config', config);
  const targets = async (): Promise<TargetView[]> => (await getJson<StatusView>(base, '/api/v1/status')).targets;
  const idleAt = (what: string, sha: string, names: string[]) =>
    waitFor(what, async () => {
      const all = await targets();
      return names.every((name) => {
        const t = all.find((x) => x.name === name);
        return t && !t.running && t.checkedRevision?.sha === sha;
      });
    }, 90_000, 200);

  before(async () => {
    dir = tempDir('fleetcd-cli-compare-');
    repo = await createFleetRepo({ 'playbooks/site.yml': site, 'inventories/staging.yml': inventory('s1'), 'inventories/production.yml': inventory('p1') });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'api-token'), 'cli-compare-token\n', { mode: 0o600 });
    config = join(dir, 'fleetcd.yaml');
    writeFileSync(
      config,
      `repository: { url: ${repo.origin}, pollInterval: 1s }\nstateDir: ${join(dir, 'state')}\n` +
        `api: { listen: "127.0.0.1:${port}", tokenFile: ${join(dir, 'api-token')} }\nreconcile: { mode: detect, interval: 1h }\n`,
    );
    daemon = spawnDaemon(config);
    await daemon.withOutput(idleAt('the startup checks', repo.head(), ['staging', 'production']));
  });

  after(async () => {
    await daemon?.stop();
    repo?.cleanup();
    removeDir(dir);
  });

  test('prints the commits staging runs and production does not, with their files, and the JSON with --json', async () => {
    const first = repo.head();
    const same = cli('compare', 'staging', 'production');
    assert.equal(same.code, 0, same.err);
    assert.match(same.out, /^staging and production run the same revision$/m);

    assert.equal(cli('suspend', 'production').code, 0);
    const second = await repo.commit({ 'roles/web/defaults/main.yml': 'workers: 4\n' }, 'Raise the worker count');
    await idleAt('staging to check the new commit', second, ['staging']);

    const short = (sha: string) => sha.slice(0, 12);
    const compared = cli('compare', 'staging', 'production');
    assert.equal(compared.code, 0, compared.err);
    assert.deepEqual(compared.out.trimEnd().split('\n').slice(0, 8).map((line) => line.replace(/\(fleetcd test <test@fleetcd\.invalid>, .*\)$/, '(AUTHOR)')), [
      `staging runs ${short(second)} Raise the worker count`,
      `production runs ${short(first)} initial fleet`,
      '',
      'staging runs 1 commit that production does not',
      '',
      'staging runs, production does not:',
      `  ${short(second)}  Raise the worker count  (AUTHOR)`,
      '      roles/web/defaults/main.yml',
    ]);
    const json = JSON.parse(cli('compare', 'staging', 'production', '--json').out) as Comparison;
    assert.deepEqual(json.ahead.map((c) => [c.sha, c.files]), [[second, ['roles/web/defaults/main.yml']]]);
    assert.equal(json.to.revision.sha, first);

    const reverse = cli('compare', 'production', 'staging');
    assert.match(reverse.out, /^staging runs 1 commit that production does not$/m);
    assert.match(reverse.out, /^staging runs, production does not:$/m);
  });

  test('an unknown target is an error naming it (exit 1)', () => {
    const unknown = cli('compare', 'staging', 'nowhere');
    assert.equal(unknown.code, 1);
    assert.equal(unknown.err, 'fleetcd: unknown target: nowhere\n');
  });
});
