import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAnsibleCfg, readRepoAnsibleCfg } from '../../src/runner/ansible-cfg.js';
import { ansibleEnv, callbackPluginDir, type SshSettings } from '../../src/runner/env.js';

const dirs = { controlPathDir: '/var/lib/fleetcd/work/ssh/web', localTempDir: '/var/lib/fleetcd/work/tmp/run-1/ansible' };
const ssh: SshSettings = { pipelining: true, controlPersistMs: 60_000 };

const parent: NodeJS.ProcessEnv = {
  PATH: '/opt/bin:/usr/bin',
  HOME: '/var/lib/fleetcd',
  LANG: 'de_DE.UTF-8',
  TZ: 'Europe/Berlin',
  USER: 'fleetcd',
  SSH_AUTH_SOCK: '/run/agent.sock',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG',
  GITHUB_TOKEN: 'ghp_secret',
  NODE_OPTIONS: '--inspect',
  FLEETCD_CONFIG: '/etc/fleetcd/fleetcd.yaml',
  ANSIBLE_ROLES_PATH: '/etc/ansible/roles',
  ANSIBLE_TIMEOUT: '30',
  ANSIBLE_VAULT_PASSWORD_FILE: '/root/.vault-pass',
  ANSIBLE_CALLBACKS_ENABLED: 'profile_tasks',
  ANSIBLE_PIPELINING: '0',
  ansible_lowercase: 'x',
  UNDEFINED_ONE: undefined,
};

describe('ansibleEnv', () => {
  it('does not pass unrelated variables of the daemon, such as cloud credentials', () => {
    const env = ansibleEnv(parent, { ...ssh, ...dirs });
    for (const key of ['AWS_SECRET_ACCESS_KEY', 'GITHUB_TOKEN', 'NODE_OPTIONS', 'FLEETCD_CONFIG', 'ansible_lowercase', 'UNDEFINED_ONE']) {
      assert.ok(!(key in env), `${key} leaked into the ansible env`);
    }
    assert.doesNotMatch(JSON.stringify(env), /wJalrXUtnFEMI|ghp_secret/);
  });

  it('passes the allow-listed basics through unchanged', () => {
    const env = ansibleEnv(parent, { ...ssh, ...dirs });
    assert.equal(env.PATH, '/opt/bin:/usr/bin');
    assert.equal(env.HOME, '/var/lib/fleetcd');
    assert.equal(env.LANG, 'de_DE.UTF-8');
    assert.equal(env.TZ, 'Europe/Berlin');
    assert.equal(env.USER, 'fleetcd');
    assert.equal(env.SSH_AUTH_SOCK, '/run/agent.sock');
  });

  it('fills in PATH and LANG when the daemon has none', () => {
    const env = ansibleEnv({}, { ...ssh, ...dirs });
    assert.equal(env.PATH, '/usr/local/bin:/usr/bin:/bin');
    assert.equal(env.LANG, 'C.UTF-8');
  });

  it("passes an operator's ANSIBLE_* settings through", () => {
    const env = ansibleEnv(parent, { ...ssh, ...dirs });
    assert.equal(env.ANSIBLE_ROLES_PATH, '/etc/ansible/roles');
    assert.equal(env.ANSIBLE_TIMEOUT, '30');
  });

  it('does not pass ANSIBLE_VAULT_PASSWORD_FILE: vault secrets come only from the config', () => {
    const env = ansibleEnv(parent, { ...ssh, ...dirs });
    assert.ok(!('ANSIBLE_VAULT_PASSWORD_FILE' in env));
  });

  it("sets the event callback, overriding the operator's callback list", () => {
    const env = ansibleEnv(parent, { ...ssh, ...dirs });
    assert.equal(env.ANSIBLE_CALLBACKS_ENABLED, 'fleetcd_events');
    assert.equal(env.ANSIBLE_CALLBACK_PLUGINS, callbackPluginDir);
    assert.equal(env.FLEETCD_EVENT_FD, '3');
  });

  it('points the callback plugin dir at the shipped plugin', () => {
    assert.ok(existsSync(join(callbackPluginDir, 'fleetcd_events.py')), `${callbackPluginDir} has no fleetcd_events.py`);
  });

  it('turns off colour and retry files and uses the run’s private temp and control-socket dirs', () => {
    const env = ansibleEnv(parent, { ...ssh, ...dirs });
    assert.equal(env.ANSIBLE_NOCOLOR, '1');
    assert.equal(env.ANSIBLE_FORCE_COLOR, '0');
    assert.equal(env.ANSIBLE_RETRY_FILES_ENABLED, '0');
    assert.equal(env.ANSIBLE_LOCAL_TEMP, dirs.localTempDir);
    assert.equal(env.ANSIBLE_SSH_CONTROL_PATH_DIR, dirs.controlPathDir);
  });

  it('sets pipelining from the settings, overriding the operator', () => {
    assert.equal(ansibleEnv(parent, { ...ssh, pipelining: true, ...dirs }).ANSIBLE_PIPELINING, '1');
    assert.equal(ansibleEnv({ ANSIBLE_PIPELINING: '1' }, { ...ssh, pipelining: false, ...dirs }).ANSIBLE_PIPELINING, '0');
  });

  it('uses ControlMaster with ControlPersist in whole seconds, at least 1s', () => {
    assert.equal(ansibleEnv({}, { ...ssh, controlPersistMs: 90_000, ...dirs }).ANSIBLE_SSH_ARGS, '-o ControlMaster=auto -o ControlPersist=90s');
    assert.match(ansibleEnv({}, { ...ssh, controlPersistMs: 0, ...dirs }).ANSIBLE_SSH_ARGS ?? '', /-o ControlPersist=1s/);
  });

  it('adds the known hosts file to the ssh arguments', () => {
    const env = ansibleEnv({}, { ...ssh, knownHostsFile: '/etc/fleetcd/known_hosts', ...dirs });
    assert.match(env.ANSIBLE_SSH_ARGS ?? '', /(^| )-o UserKnownHostsFile=\/etc\/fleetcd\/known_hosts( |$)/);
  });

  it('quotes a known hosts path with a blank or a % so that shlex and ssh both read it whole', () => {
    const path = '/etc/fleet cd/known_hosts%h';
    const args = ansibleEnv({}, { ...ssh, knownHostsFile: path, ...dirs }).ANSIBLE_SSH_ARGS ?? '';
    // Ansible splits ANSIBLE_SSH_ARGS with Python's shlex; ask the real one.
    const words = JSON.parse(
      execFileSync('python3', ['-c', 'import json, shlex, sys; print(json.dumps(shlex.split(sys.argv[1])))', args], { encoding: 'utf8' }),
    ) as string[];
    const option = words[words.indexOf('-o') + 1];
    assert.equal(option, 'UserKnownHostsFile="/etc/fleet cd/known_hosts%%h"', 'ssh reads the double quotes and %% itself');
    // And ssh itself takes the value as one path: `ssh -G` prints the options it resolved.
    const resolved = execFileSync('ssh', ['-G', '-o', option!, 'example.invalid'], { encoding: 'utf8' });
    assert.match(resolved, /^userknownhostsfile \/etc\/fleet cd\/known_hosts%h$/m);
  });

  it('turns strict host key checking on for ansible and ssh', () => {
    const env = ansibleEnv({}, { ...ssh, strictHostKeyChecking: true, ...dirs });
    assert.equal(env.ANSIBLE_HOST_KEY_CHECKING, '1');
    assert.match(env.ANSIBLE_SSH_ARGS ?? '', /-o StrictHostKeyChecking=yes/);
  });

  it('turns strict host key checking off for ansible and ssh', () => {
    const env = ansibleEnv({ ANSIBLE_HOST_KEY_CHECKING: '1' }, { ...ssh, strictHostKeyChecking: false, ...dirs });
    assert.equal(env.ANSIBLE_HOST_KEY_CHECKING, '0');
    assert.match(env.ANSIBLE_SSH_ARGS ?? '', /-o StrictHostKeyChecking=no/);
  });

  it('leaves host key checking to ansible.cfg when the setting is unset', () => {
    const env = ansibleEnv({}, { ...ssh, ...dirs });
    assert.ok(!('ANSIBLE_HOST_KEY_CHECKING' in env));
    assert.doesNotMatch(env.ANSIBLE_SSH_ARGS ?? '', /StrictHostKeyChecking|UserKnownHostsFile/);
  });

  it('does not change the parent environment it reads', () => {
    const copy = { ...parent };
    ansibleEnv(parent, { ...ssh, ...dirs });
    assert.deepEqual(parent, copy);
  });
});

describe('the fact cache', () => {
  const settings = { pipelining: true, controlPersistMs: 60_000, controlPathDir: '/c', localTempDir: '/t', facts: { dir: '/state/work/facts/web', timeoutMs: 900_000 } };

  it('keeps facts per target in a jsonfile cache for the interval, with smart gathering', () => {
    const env = ansibleEnv({}, settings);
    assert.equal(env.ANSIBLE_CACHE_PLUGIN, 'jsonfile');
    assert.equal(env.ANSIBLE_CACHE_PLUGIN_CONNECTION, '/state/work/facts/web');
    assert.equal(env.ANSIBLE_CACHE_PLUGIN_TIMEOUT, '900');
    assert.equal(env.ANSIBLE_GATHERING, 'smart');
  });

  it("leaves the repository's own fact caching and gathering, and an operator's ANSIBLE_ variables, alone", () => {
    const env = ansibleEnv({}, settings, { factCaching: 'redis', gathering: 'explicit' });
    assert.ok(!('ANSIBLE_CACHE_PLUGIN' in env));
    assert.ok(!('ANSIBLE_GATHERING' in env));
    const operator = ansibleEnv({ ANSIBLE_CACHE_PLUGIN: 'memory', ANSIBLE_GATHERING: 'implicit' }, settings);
    assert.equal(operator.ANSIBLE_CACHE_PLUGIN, 'memory');
    assert.equal(operator.ANSIBLE_GATHERING, 'implicit');
  });

  it('is off without its settings (ansible.factCache: false)', () => {
    const env = ansibleEnv({}, { ...settings, facts: undefined });
    assert.ok(!('ANSIBLE_CACHE_PLUGIN' in env) && !('ANSIBLE_GATHERING' in env));
  });

  it('reads fact_caching and gathering from the repository ansible.cfg', () => {
    assert.deepEqual(parseAnsibleCfg('[defaults]\nfact_caching = jsonfile\ngathering = explicit\n'), {
      callbacksEnabled: undefined,
      callbackPlugins: undefined,
      sshArgs: undefined,
      pipelining: undefined,
      factCaching: 'jsonfile',
      gathering: 'explicit',
    });
  });
});

describe('the repository ansible.cfg, merged rather than overridden', () => {
  const settings = { pipelining: true, controlPersistMs: 60_000, controlPathDir: '/c', localTempDir: '/t', knownHostsFile: '/k', strictHostKeyChecking: true };

  it('reads callbacks, callback plugins, ssh_args and pipelining the way Ansible does', () => {
    const cfg = parseAnsibleCfg(
      '# comment\n[defaults]\ncallback_whitelist = timer, profile_tasks\ncallback_plugins: ./plugins ; inline\n\n[ssh_connection]\nssh_args = -C -o ServerAliveInterval=30\npipelining = False\n',
    );
    assert.deepEqual(cfg, {
      callbacksEnabled: ['timer', 'profile_tasks'],
      callbackPlugins: './plugins',
      sshArgs: '-C -o ServerAliveInterval=30',
      pipelining: false,
      factCaching: undefined,
      gathering: undefined,
    });
  });

  it("keeps the repo's callbacks and ssh_args beside fleetcd's, host-key settings first", () => {
    const env = ansibleEnv({}, settings, { callbacksEnabled: ['timer'], callbackPlugins: '/repo/plugins', sshArgs: '-o ControlPersist=5m', pipelining: false });
    assert.equal(env.ANSIBLE_CALLBACKS_ENABLED, 'timer,fleetcd_events');
    assert.ok(env.ANSIBLE_CALLBACK_PLUGINS?.endsWith(':/repo/plugins'));
    assert.equal(env.ANSIBLE_PIPELINING, '0', "the repo's pipelining setting wins over the default");
    assert.equal(
      env.ANSIBLE_SSH_ARGS,
      '-o UserKnownHostsFile=/k -o StrictHostKeyChecking=yes -o ControlPersist=5m -o ControlMaster=auto -o ControlPersist=60s',
    );
  });
});

describe("reading a commit's ansible.cfg, which the commit's author controls", () => {
  const inDir = (make: (file: string) => void, check: (dir: string) => void) => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetcd-cfg-'));
    try {
      make(join(dir, 'ansible.cfg'));
      check(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('reads a regular file, through a symlink too, and an absent one as empty', () => {
    inDir(
      (file) => {
        writeFileSync(`${file}.real`, '[defaults]\ngathering = explicit\n');
        symlinkSync(`${file}.real`, file);
      },
      (dir) => assert.equal(readRepoAnsibleCfg(dir).gathering, 'explicit'),
    );
    inDir(
      () => undefined,
      (dir) => assert.deepEqual(readRepoAnsibleCfg(dir), {}),
    );
  });

  it('refuses a FIFO without opening it (a read would block the daemon), naming the file and what it is', () => {
    inDir(
      (file) => execFileSync('mkfifo', [file]),
      (dir) => assert.throws(() => readRepoAnsibleCfg(dir), /^FleetError: ansible.cfg: is not a regular file \(a FIFO\)/),
    );
  });

  it('refuses a device and a directory', () => {
    inDir(
      (file) => symlinkSync('/dev/zero', file),
      (dir) => assert.throws(() => readRepoAnsibleCfg(dir), /ansible.cfg: is not a regular file \(a device\)/),
    );
    inDir(
      (file) => mkdirSync(file),
      (dir) => assert.throws(() => readRepoAnsibleCfg(dir), /ansible.cfg: is not a regular file \(a directory\)/),
    );
  });

  it('refuses a file over 1 MiB, saying its size', () => {
    inDir(
      (file) => {
        writeFileSync(file, '');
        truncateSync(file, 100 * 1024 * 1024);
      },
      (dir) => assert.throws(() => readRepoAnsibleCfg(dir), /ansible.cfg: is 104857600 bytes, over the 1048576 fleetcd reads/),
    );
  });
});
