import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFleet, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const local = 'ansible_connection=local ansible_python_interpreter=/usr/bin/python3';

describe('the fleet repository as Ansible lays it out, and per-target options', () => {
  let f: TestFleet;
  let hosts: string;

  before(async () => {
    hosts = tempDir('fleetcd-layout-');
    const big = 'x'.repeat(100 * 1024);
    f = await makeFleet(
      {
        // ansible.cfg at the repo path is honoured: its roles_path is where `greeter` lives.
        // and its own callbacks still run beside fleetcd's (the tree callback writes one file per host).
        'ansible.cfg': `[defaults]\nroles_path = ./vendor-roles\ncallbacks_enabled = tree\n\n[callback_tree]\ndirectory = ${join(hosts, 'tree')}\n`,
        'vendor-roles/greeter/tasks/main.yml': '- name: greeting\n  ansible.builtin.copy: { dest: "{{ host_root }}/greeting", content: "hi {{ who }}\\n" }\n',
        'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  pre_tasks:\n    - ansible.builtin.file: { path: "{{ host_root }}", state: directory }\n  roles: [greeter]\n',
        'playbooks/tagged.yml': `- hosts: all
  gather_facts: false
  tasks:
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
      tags: [base]
    - name: big file
      ansible.builtin.copy: { dest: "{{ host_root }}/big", content: "${big}" }
      tags: [big]
    - name: skipped by skipTags
      ansible.builtin.copy: { dest: "{{ host_root }}/never", content: "no" }
      tags: [big, slow]
    - name: untagged
      ansible.builtin.copy: { dest: "{{ host_root }}/untagged", content: "no" }
`,
        // One target from a folder (hosts file + group_vars), one from an .ini file.
        'inventories/folder/hosts.yml': `all:\n  hosts:\n    f1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3, host_root: ${join(hosts, 'f1')} }\n`,
        'inventories/folder/group_vars/all.yml': 'who: folder\n',
        'inventories/classic.ini': `c1 ${local} host_root=${join(hosts, 'c1')}\nc2 ${local} host_root=${join(hosts, 'c2')}\n`,
      },
      {
        config: {
          targets: {
            classic: { playbook: 'playbooks/tagged.yml', tags: ['base', 'big'], skipTags: ['slow'], limit: 'c1' },
            folder: { extraVars: { who: 'extra-vars' } },
            configured: { mode: 'apply' },
          },
        },
      },
    );
  });

  after(async () => {
    await f?.cleanup();
    removeDir(hosts);
  });

  test('targets are inventory folders and .yml/.ini files, plus config-only names reported as problems', () => {
    const targets = f.fleet.status().targets;
    assert.deepEqual(targets.map((t) => t.name), ['classic', 'configured', 'folder']);
    assert.match(targets.find((t) => t.name === 'configured')!.problem ?? '', /no inventories\/configured\/ or inventories\/configured\.yml\|\.ini/);
    assert.equal(targets.find((t) => t.name === 'folder')!.problem, null);
  });

  test("the repo's ansible.cfg applies, and extraVars win over group_vars", async () => {
    const { id } = f.fleet.reconcile(['folder'], { trigger: 'cli', mode: 'apply' })[0]!;
    const [check, apply] = await f.chain(id!);
    assert.equal(check!.status, 'succeeded', check!.error ?? '');
    assert.equal(apply!.status, 'succeeded', apply!.error ?? '');
    assert.equal(readFileSync(join(hosts, 'f1', 'greeting'), 'utf8'), 'hi extra-vars\n');
    assert.ok(existsSync(join(hosts, 'tree', 'f1')), "the repo's tree callback ran too");
  });

  test('limit, tags and skipTags reach Ansible; a diff over 64 KiB is cut and flagged', async () => {
    const { id } = f.fleet.reconcile(['classic'], { trigger: 'cli', mode: 'apply' })[0]!;
    const [check, apply] = await f.chain(id!);
    assert.equal(check!.limit, 'c1');
    assert.deepEqual(check!.hosts.map((h) => h.host), ['c1'], 'limit: c1 only');
    const tasks = new Set(f.fleet.events(check!.id, 0, 100).events.map((e) => e.task));
    assert.ok(tasks.has('big file'));
    assert.ok(!tasks.has('skipped by skipTags'), 'skipTags');
    assert.ok(!tasks.has('untagged'), 'tags');
    const bigChange = check!.changes.find((c) => c.task === 'big file')!;
    const diff = bigChange.diff![0] as { after: string; truncated?: boolean };
    assert.equal(diff.truncated, true);
    assert.equal(diff.after.length, 65536);
    const event = f.fleet.events(check!.id, 0, 100).events.find((e) => e.task === 'big file')!;
    assert.equal(event.truncated, true);
    assert.equal(apply!.status, 'succeeded');
    assert.equal(readFileSync(join(hosts, 'c1', 'big'), 'utf8').length, 100 * 1024, 'the apply wrote the whole file');
    assert.equal(existsSync(join(hosts, 'c2')), false, 'c2 is outside the limit');
  });
});
