import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const fleetcd = runCli;

describe('fleetcd check / apply in the foreground', () => {
  let dir: string;
  let repo: FleetRepo;
  let config: string;

  before(async () => {
    dir = tempDir('fleetcd-cli-');
    repo = await createFleetRepo({
      'playbooks/site.yml':
        '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.file: { path: "{{ host_root }}", state: directory }\n    - name: greeting\n      ansible.builtin.copy: { dest: "{{ host_root }}/greeting", content: "hello {{ inventory_hostname }}\\n" }\n',
      'inventories/lab.yml': `all:\n  vars: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n  hosts:\n    one: { host_root: ${join(dir, 'one')} }\n    two: { host_root: ${join(dir, 'two')} }\n`,
    });
    config = join(dir, 'fleetcd.yaml');
    writeFileSync(config, `repository: { url: ${repo.origin} }\nstateDir: ${join(dir, 'state')}\n`);
  });

  after(() => {
    repo?.cleanup();
    removeDir(dir);
  });

  test('check exits 2 on drift and prints the drift with its diff, changing nothing', () => {
    const { code, out } = fleetcd('check', '--config', config);
    assert.equal(code, 2, out);
    assert.match(out, new RegExp(`revision ${repo.head()}`));
    assert.match(out, /drift: one \| greeting \(ansible\.builtin\.copy\)/);
    assert.match(out, /\+hello two/);
  });

  test('apply applies (exit 0), after which check is in sync (exit 0)', () => {
    const applied = fleetcd('apply', 'lab', '--config', config);
    assert.equal(applied.code, 0, applied.out + applied.err);
    assert.match(applied.out, /run #\d+ apply of lab .*: succeeded/);
    assert.equal(readFileSync(join(dir, 'two', 'greeting'), 'utf8'), 'hello two\n');
    const checked = fleetcd('check', '--config', config);
    assert.equal(checked.code, 0, checked.out);
  });

  test('an unknown target is an error (exit 1) naming it', () => {
    const { code, err } = fleetcd('check', 'nope', '--config', config);
    assert.equal(code, 1);
    assert.match(err, /unknown target: nope/);
  });

  test('a failing host makes check exit 1', async () => {
    await repo.commit({ 'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.fail: { msg: broken on purpose }\n' }, 'break');
    const { code, out } = fleetcd('check', '--config', config);
    assert.equal(code, 1, out);
    assert.match(out, /failed: one \| .*broken on purpose/);
  });

  test('an invalid config is refused before anything runs: the file, the key and the problem', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `repository: { url: ${repo.origin} }\nstateDir: ${join(dir, 'bad-state')}\nreconcile: { concurrency: two }\n`);
    const check = fleetcd('check', '--config', bad);
    assert.equal(check.code, 1);
    assert.match(check.err, /bad\.yaml: reconcile\.concurrency: must be an integer ≥ 1, got "two"/);
    const serve = fleetcd('serve', '--config', bad);
    assert.equal(serve.code, 78, 'serve exits EX_CONFIG so systemd does not restart it');
    assert.match(serve.err, /reconcile\.concurrency/);
  });
});
