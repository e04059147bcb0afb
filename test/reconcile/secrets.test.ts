import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const vaultPassword = 'Vault-Passw0rd-7f3a91';
const vaultedValue = 'db-secret-from-vault-5c2e';
const secretVarValue = 'api-key-from-secret-file-9d41';
const secrets = [vaultPassword, vaultedValue, secretVarValue];

/** Every secret that occurs in `text`. */
const leaked = (text: string): string[] => secrets.filter((secret) => text.includes(secret));

describe('secrets stay secret', () => {
  let f: TestFleet;
  let dir: string;
  let sandboxes: string;
  const psSamples: string[] = [];
  let runIds: number[] = [];

  before(async () => {
    dir = tempDir('fleetcd-secrets-');
    sandboxes = join(dir, 'hosts');
    const passwordFile = join(dir, 'vault-pass');
    writeFileSync(passwordFile, `${vaultPassword}\n`, { mode: 0o600 });
    const secretFile = join(dir, 'api-key');
    writeFileSync(secretFile, `${secretVarValue}\n`, { mode: 0o600 });
    const vaulted = execFileSync(
      'ansible-vault',
      ['encrypt_string', '--vault-password-file', passwordFile, '--name', 'db_password', vaultedValue],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    f = await makeFleet(
      {
        'playbooks/site.yml': playbook(`
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
    - name: database password file
      ansible.builtin.copy: { dest: "{{ host_root }}/db.pass", content: "{{ db_password }}\\n", mode: "0600" }
      no_log: true
    - name: api key file
      ansible.builtin.copy: { dest: "{{ host_root }}/api.key", content: "{{ api_key }}\\n", mode: "0600" }
      no_log: true
    - name: failing task that mentions the secret
      ansible.builtin.command: "/bin/false {{ api_key }}"
      no_log: true
      ignore_errors: true
      check_mode: false
    - name: hold the run open so ps can be sampled
      ansible.builtin.command: sleep 2
      check_mode: false
      changed_when: false
`),
        'inventories/vaulted.yml': localInventory(sandboxes, ['v1']),
        'inventories/group_vars/all.yml': vaulted,
      },
      { config: {
        ansible: { vaultPasswordFile: passwordFile },
        targets: { vaulted: { mode: 'apply', secretVars: { api_key: secretFile } } },
      } },
    );
    const sampler = setInterval(() => {
      psSamples.push(spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout);
    }, 100);
    try {
      const { id } = f.fleet.reconcile(['vaulted'], { trigger: 'api' })[0]!;
      runIds = (await f.chain(id!)).map((run) => run.id);
    } finally {
      clearInterval(sampler);
    }
  });

  after(async () => {
    await f?.cleanup();
    removeDir(dir);
  });

  test('the vaulted variable and the secret var are used: the apply wrote them to the host', () => {
    assert.equal(runIds.length, 2, 'apply, verify (a new revision needs no precheck)');
    const apply = f.fleet.run(runIds[0]!);
    assert.equal(apply.status, 'succeeded', apply.error ?? '');
    assert.equal(readFileSync(join(sandboxes, 'v1', 'db.pass'), 'utf8'), `${vaultedValue}\n`);
    assert.equal(readFileSync(join(sandboxes, 'v1', 'api.key'), 'utf8'), `${secretVarValue}\n`);
  });

  test('no_log results are stored censored and without their diff, the apply’s as a check’s', () => {
    const apply = f.fleet.run(runIds[0]!);
    assert.equal(apply.kind, 'apply');
    const task = f.fleet.events(apply.id, 0, 500).events.find((e) => e.task === 'database password file');
    assert.equal(task?.status, 'changed');
    assert.equal(task?.censored, true);
    assert.equal(task?.diff, null);
    assert.equal(task?.message, null);
  });

  test('no secret reaches the database files, the run logs, the daemon log, the API or ps', async () => {
    const stateFiles = readdirSync(f.stateDir).filter((name) => name.startsWith('fleetcd.db'));
    assert.ok(stateFiles.length >= 1);
    f.db.pragma('wal_checkpoint(TRUNCATE)');
    for (const name of stateFiles) {
      assert.deepEqual(leaked(readFileSync(join(f.stateDir, name)).toString('latin1')), [], name);
    }
    for (const id of runIds) {
      const log = join(f.stateDir, 'logs', `run-${id}.log`);
      assert.ok(existsSync(log));
      assert.deepEqual(leaked(readFileSync(log, 'utf8')), [], `run ${id} log`);
    }
    assert.deepEqual(leaked(readFileSync(f.logFile, 'utf8')), [], 'daemon log');
    const api = f.api;
    const urls = ['/api/v1/status', '/api/v1/targets/vaulted', '/api/v1/runs', ...runIds.flatMap((id) => [`/api/v1/runs/${id}`, `/api/v1/runs/${id}/events`, `/api/v1/runs/${id}/log`])];
    for (const url of urls) {
      const response = await api.inject({ url });
      assert.equal(response.statusCode, 200, url);
      assert.deepEqual(leaked(response.body), [], url);
    }
    assert.ok(psSamples.length > 10, 'ps was sampled while the runs went on');
    assert.ok(psSamples.some((sample) => sample.includes('ansible-playbook')), 'ps saw ansible-playbook running');
    assert.deepEqual(leaked(psSamples.join('\n')), [], 'ps output');
  });
});
