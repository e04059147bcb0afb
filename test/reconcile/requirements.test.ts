import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/** A role packed as a tarball inside the repo, as a vendored galaxy role would be (no network). */
function packRole(repo: string, dir: string): void {
  const role = join(dir, 'greeter');
  mkdirSync(join(role, 'tasks'), { recursive: true });
  mkdirSync(join(role, 'meta'), { recursive: true });
  writeFileSync(
    join(role, 'tasks', 'main.yml'),
    '- name: greeting file\n  ansible.builtin.copy: { dest: "{{ host_root }}/greeting", content: "hello from the greeter role\\n" }\n',
  );
  writeFileSync(join(role, 'meta', 'main.yml'), 'galaxy_info: { author: fleetcd, description: test, license: MIT, min_ansible_version: "2.14" }\ndependencies: []\n');
  mkdirSync(join(repo, 'vendor'), { recursive: true });
  execFileSync('tar', ['czf', join(repo, 'vendor', 'greeter.tar.gz'), '-C', dir, 'greeter']);
}

describe('requirements.yml', () => {
  let f: TestFleet;
  let work: string;

  before(async () => {
    work = tempDir('fleetcd-req-');
    f = await makeFleet({
      'requirements.yml': '- src: ./vendor/greeter.tar.gz\n  name: greeter\n',
      'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  roles: [greeter]\n',
      'inventories/app.yml': localInventory(join(work, 'hosts'), ['h1']),
    });
    packRole(f.root, work);
  });

  after(async () => {
    await f?.cleanup();
    removeDir(work);
  });

  test('roles from requirements.yml are installed once for the revision and used by its runs', async () => {
    const { id } = f.fleet.reconcile(['app'], { trigger: 'cli', mode: 'check' })[0]!;
    const [check] = await f.chain(id!);
    assert.equal(check!.status, 'succeeded', check!.error ?? '');
    assert.deepEqual(check!.changes.map((c) => c.task), ['greeting file']);
    const [event] = f.fleet.events(check!.id, 0, 10).events;
    assert.match(event?.path ?? '', new RegExp(`/galaxy/${f.fleet.revision!.sha}/roles/greeter/tasks/main\\.yml:\\d+$`));
  });

  test('a revision whose requirements fail to install gets one failed run with the galaxy error; later checks go on at the revision the target last ran', async () => {
    const good = f.fleet.revision!;
    const badRoot = join(work, 'bad-revision');
    cpSync(f.root, badRoot, { recursive: true });
    writeFileSync(join(badRoot, 'requirements.yml'), '- src: ./vendor/missing.tar.gz\n  name: missing\n');
    f.fleet.useRevision({ ...good, sha: 'bad'.padEnd(40, '0'), dir: badRoot, root: badRoot });

    const { id } = f.fleet.reconcile(['app'], { trigger: 'commit', mode: 'check' })[0]!;
    const [failed] = await f.chain(id!);
    assert.equal(failed!.status, 'failed');
    assert.equal(failed!.revision, 'bad'.padEnd(40, '0'));
    assert.match(failed!.error ?? '', /requirements\.yml: ansible-galaxy role install failed/);
    assert.match(failed!.error ?? '', /missing/);

    const { id: next } = f.fleet.reconcile(['app'], { trigger: 'schedule', mode: 'check' })[0]!;
    const [scheduled] = await f.chain(next!);
    assert.equal(scheduled!.revision, good.sha, 'scheduled checks go on at the revision the target last ran');
    assert.equal(scheduled!.status, 'succeeded');
    assert.equal(f.fleet.status().revision?.sha, 'bad'.padEnd(40, '0'), 'the newest tip is still the one the source gave');
    assert.equal(f.fleet.runs({ target: 'app', limit: 50 }).filter((r) => r.status === 'failed').length, 1, 'one failed run for the broken tip');
    const { problem } = f.fleet.target('app');
    assert.match(problem ?? '', /^main is at bad000000000 \("test"\), which is not in use: requirements\.yml: ansible-galaxy role install failed/);
    assert.match(problem ?? '', new RegExp(`reconciles go on at ${good.sha.slice(0, 12)}, the revision this target last ran$`));
  });
});
