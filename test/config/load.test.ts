import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { configPath, loadConfig, parseConfig, readSecretFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

/** A fresh folder under the OS temp dir, removed when the test ends. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fleetcd-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** The message of the ConfigError that `run` throws; fails the test if it throws anything else or nothing. */
function configErrorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

/** Problems parseConfig reports for `raw` as if it came from `fleetcd.yaml`. */
function problemsOf(raw: unknown): string {
  return configErrorOf(() => parseConfig(raw, 'fleetcd.yaml'));
}

const minimal = { repository: { url: '/srv/fleet-config.git' } };
/** The API's defaults against slow clients: api.timeouts and api.maxConnections. */
const apiLimits = { timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 }, maxConnections: 1024 };

const fullExample = `
repository:
  url: ../fleet-config.git
  revision: v1.2.0
  path: ./site/
  pollInterval: 90s
  keepRevisions: 3
  sshKeyFile: keys/deploy
  knownHostsFile: /etc/fleetcd/known_hosts
  strictHostKeyChecking: false
  tokenFile: secrets/token
  usernameFile: secrets/user
  passwordFile: secrets/pass
  webhookSecretFile: secrets/webhook
  verify:
    mode: ssh
    allowedSignersFile: allowed_signers
stateDir: state
api:
  listen: "[::1]:9200"
  tokenFile: /etc/fleetcd/api-token
  timeouts: { headers: 5s, request: 20s, keepAlive: 2s }
  maxConnections: 256
ansible:
  vaultPasswordFile: vault/default
  vaultIds: [{ id: prod, file: vault/prod }]
  sshKeyFile: keys/ansible
  knownHostsFile: keys/known_hosts
  strictHostKeyChecking: true
  pipelining: false
  controlPersist: 2m
reconcile:
  mode: apply
  precheck: always
  interval: 1h30m
  concurrency: 4
  timeout: 45m
  shutdownGrace: 500ms
  jitter: 25%
  retry: { limit: 5, initialDelay: 30s, maxDelay: 1h }
  applyWindows:
    - { cron: "0 2 * * 1-5", duration: 2h, timezone: Europe/Berlin }
retention: { maxAge: 90d, maxRunsPerTarget: 200 }
targets:
  web:
    mode: apply
    precheck: auto
    playbook: playbooks/web.yml
    limit: "web*"
    tags: [a, b]
    skipTags: [c]
    extraVars: { key: value, release: 2024-01-01, nested: { n: 1 } }
    secretVars: { db_password: /etc/fleetcd/db-pass, api_key: secrets/api-key }
    forks: 5
    timeout: 10m
    become: true
    interval: 5m
    jitter: 0%
    retry: { limit: 1 }
    applyWindows: []
    dependsOn: [db.primary]
    soak: 30m
  db.primary:
`;

describe('loadConfig', () => {
  it('fills every default from a config that sets only repository.url', (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, 'fleetcd.yaml', 'repository:\n  url: /srv/fleet-config.git\n');
    assert.deepEqual(loadConfig(file), {
      file,
      configDir: dir,
      repository: {
        url: '/srv/fleet-config.git',
        branch: 'main',
        path: '.',
        pollIntervalMs: 60_000,
        keepRevisions: 5,
        strictHostKeyChecking: true,
      },
      stateDir: '/var/lib/fleetcd',
      api: { host: '127.0.0.1', port: 9110, tokens: [], requireReadToken: false, ...apiLimits },
      notifications: [],
      ansible: { vaultIds: [], pipelining: true, controlPersistMs: 60_000, factCache: true, nice: 0 },
      reconcile: {
        mode: 'detect',
        precheck: 'auto',
        intervalMs: 900_000,
        jitter: 0.1,
        concurrency: 2,
        timeoutMs: 1_800_000,
        shutdownGraceMs: 30_000,
        retry: { limit: 3, initialDelayMs: 60_000, maxDelayMs: 1_800_000 },
        applyWindows: [],
      },
      targets: {},
      retention: { maxAgeMs: 30 * 86_400_000, maxRunsPerTarget: 1000, maxLogBytes: 50 * 1024 ** 2 },
      gates: [],
      previews: { fromWebhooks: false, comment: false },
    });
  });

  it('parses the full example with durations in ms and relative paths taken from the config folder', (t) => {
    const dir = tempDir(t);
    const file = writeFile(dir, 'etc/fleetcd.yaml', fullExample);
    const etc = path.join(dir, 'etc');
    const config = loadConfig(file);
    assert.equal(config.configDir, etc);
    assert.deepEqual(config.repository, {
      url: path.join(dir, 'fleet-config.git'),
      revision: 'v1.2.0',
      path: 'site',
      pollIntervalMs: 90_000,
      keepRevisions: 3,
      sshKeyFile: path.join(etc, 'keys/deploy'),
      knownHostsFile: '/etc/fleetcd/known_hosts',
      strictHostKeyChecking: false,
      tokenFile: path.join(etc, 'secrets/token'),
      usernameFile: path.join(etc, 'secrets/user'),
      passwordFile: path.join(etc, 'secrets/pass'),
      webhookSecretFile: path.join(etc, 'secrets/webhook'),
      verify: { mode: 'ssh', allowedSignersFile: path.join(etc, 'allowed_signers') },
    });
    assert.equal(config.stateDir, path.join(etc, 'state'));
    assert.deepEqual(config.api, {
      host: '::1',
      port: 9200,
      tokenFile: '/etc/fleetcd/api-token',
      tokens: [],
      requireReadToken: false,
      timeouts: { headersMs: 5_000, requestMs: 20_000, keepAliveMs: 2_000 },
      maxConnections: 256,
    });
    assert.deepEqual(config.ansible, {
      vaultPasswordFile: path.join(etc, 'vault/default'),
      vaultIds: [{ id: 'prod', file: path.join(etc, 'vault/prod') }],
      sshKeyFile: path.join(etc, 'keys/ansible'),
      knownHostsFile: path.join(etc, 'keys/known_hosts'),
      strictHostKeyChecking: true,
      pipelining: false,
      controlPersistMs: 120_000,
      factCache: true,
      nice: 0,
    });
    assert.deepEqual(config.reconcile, {
      mode: 'apply',
      precheck: 'always',
      intervalMs: 5_400_000,
      jitter: 0.25,
      concurrency: 4,
      timeoutMs: 2_700_000,
      shutdownGraceMs: 500,
      retry: { limit: 5, initialDelayMs: 30_000, maxDelayMs: 3_600_000 },
      applyWindows: [{ cron: '0 2 * * 1-5', durationMs: 7_200_000, timezone: 'Europe/Berlin' }],
    });
    assert.deepEqual(config.retention, { maxAgeMs: 90 * 86_400_000, maxRunsPerTarget: 200, maxLogBytes: 50 * 1024 ** 2 });
    assert.deepEqual(config.targets, {
      web: {
        mode: 'apply',
        precheck: 'auto',
        playbook: 'playbooks/web.yml',
        limit: 'web*',
        tags: ['a', 'b'],
        skipTags: ['c'],
        extraVars: { key: 'value', release: '2024-01-01', nested: { n: 1 } },
        secretVars: { db_password: '/etc/fleetcd/db-pass', api_key: path.join(etc, 'secrets/api-key') },
        forks: 5,
        timeoutMs: 600_000,
        become: true,
        intervalMs: 300_000,
        jitter: 0,
        retry: { limit: 1 },
        applyWindows: [],
        dependsOn: ['db.primary'],
        soakMs: 1_800_000,
      },
      'db.primary': {},
    });
  });

  it('returns a deep-frozen config', (t) => {
    const file = writeFile(tempDir(t), 'fleetcd.yaml', fullExample);
    const config = loadConfig(file);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.targets.web?.tags));
    assert.ok(Object.isFrozen(config.targets.web?.extraVars?.nested));
    assert.throws(() => {
      config.reconcile.concurrency = 10;
    }, TypeError);
  });

  it('says a missing file cannot be read, naming it', (t) => {
    const file = path.join(tempDir(t), 'absent.yaml');
    assert.equal(configErrorOf(() => loadConfig(file)), `${file}: cannot read: no such file`);
  });

  it('names the file and line of a YAML syntax error', (t) => {
    const file = writeFile(tempDir(t), 'fleetcd.yaml', 'repository:\n  url: /srv/x.git\n    branch: main\n');
    const message = configErrorOf(() => loadConfig(file));
    assert.ok(message.startsWith(`${file}: line 3, column 11: invalid YAML: bad indentation`), message);
  });

  it('requires a YAML mapping at the top, also of an empty file', (t) => {
    const dir = tempDir(t);
    for (const [name, text] of [['empty.yaml', ''], ['list.yaml', '- a\n- b\n'], ['scalar.yaml', 'hello\n']] as const) {
      const file = writeFile(dir, name, text);
      assert.equal(configErrorOf(() => loadConfig(file)), `${file}: must be a YAML mapping`);
    }
  });
});

describe('parseConfig messages', () => {
  it('follows the template for wrong integers, durations and modes', () => {
    const message = problemsOf({ ...minimal, reconcile: { concurrency: 'two', interval: 'soon', mode: 'heal', precheck: 'never' } });
    assert.ok(message.includes('fleetcd.yaml: reconcile.concurrency: must be an integer ≥ 1, got "two"'), message);
    assert.ok(message.includes('fleetcd.yaml: reconcile.interval: must be a duration like 90s, 15m or 2h, got "soon"'), message);
    assert.ok(message.includes('fleetcd.yaml: reconcile.mode: must be one of detect, apply, got "heal"'), message);
    assert.ok(message.includes('fleetcd.yaml: reconcile.precheck: must be one of auto, always, got "never"'), message);
    assert.equal(message.split('\n').length, 4);
  });

  it('says a required key is required', () => {
    assert.equal(problemsOf({ repository: {} }), 'fleetcd.yaml: repository.url: is required');
    assert.equal(problemsOf({ stateDir: '/x' }), 'fleetcd.yaml: repository: is required');
  });

  it('reports each unknown key on its own line with its full path', () => {
    const message = problemsOf({
      repository: { url: 'x', verify: { mode: 'gpg', keyringFile: '/k', keyring: '/k' } },
      reconcile: { bogus: 1 },
      ansible: { vaultIds: [{ id: 'prod', file: '/v', password: 'no' }] },
      targets: { web: { tag: 'a' } },
      extra: true,
    });
    assert.deepEqual(message.split('\n').sort(), [
      'fleetcd.yaml: ansible.vaultIds.0.password: unknown key',
      'fleetcd.yaml: extra: unknown key',
      'fleetcd.yaml: reconcile.bogus: unknown key',
      'fleetcd.yaml: repository.verify.keyring: unknown key',
      'fleetcd.yaml: targets.web.tag: unknown key',
    ]);
  });

  it('indexes list items in the key path', () => {
    const message = problemsOf({ ...minimal, ansible: { vaultIds: [{ id: 'prod', file: 5 }] } });
    assert.equal(message, 'fleetcd.yaml: ansible.vaultIds.0.file: must be a file path, got 5');
  });

  it('refuses both a branch and a revision', () => {
    const message = problemsOf({ repository: { url: 'x', branch: 'main', revision: 'v1.2.0' } });
    assert.equal(message, 'fleetcd.yaml: repository: set either branch or revision, not both');
  });

  it('keeps a pinned revision without defaulting the branch', () => {
    const config = parseConfig({ repository: { url: 'x', revision: 'v1.2.0' } }, 'fleetcd.yaml');
    assert.equal(config.repository.revision, 'v1.2.0');
    assert.equal(config.repository.branch, undefined);
  });

  it('requires usernameFile and passwordFile together', () => {
    assert.equal(
      problemsOf({ repository: { url: 'x', usernameFile: '/u' } }),
      'fleetcd.yaml: repository.passwordFile: is required when usernameFile is set',
    );
    assert.equal(
      problemsOf({ repository: { url: 'x', passwordFile: '/p' } }),
      'fleetcd.yaml: repository.usernameFile: is required when passwordFile is set',
    );
  });

  it('requires the file each verify mode checks against', () => {
    assert.equal(
      problemsOf({ repository: { url: 'x', verify: { mode: 'ssh' } } }),
      'fleetcd.yaml: repository.verify.allowedSignersFile: is required when mode is ssh',
    );
    assert.equal(
      problemsOf({ repository: { url: 'x', verify: { mode: 'gpg', allowedSignersFile: '/a' } } }),
      'fleetcd.yaml: repository.verify.keyringFile: is required when mode is gpg',
    );
  });

  it('keeps repository paths inside the repository', () => {
    for (const bad of ['/etc', '../other', 'a/../../b']) {
      assert.equal(
        problemsOf({ repository: { url: 'x', path: bad } }),
        `fleetcd.yaml: repository.path: must be a relative path inside the repository, without .. segments, got ${JSON.stringify(bad)}`,
      );
    }
    assert.match(problemsOf({ ...minimal, targets: { web: { playbook: '../x.yml' } } }), /^fleetcd\.yaml: targets\.web\.playbook: /);
  });

  it('leaves remote repository URLs alone and resolves ./ and ../ ones', () => {
    const dir = path.resolve('/etc/fleetcd');
    for (const url of ['https://git.example.com/fleet.git', 'git@git.example.com:fleet.git', '/srv/fleet.git']) {
      assert.equal(parseConfig({ repository: { url } }, '/etc/fleetcd/fleetcd.yaml').repository.url, url);
    }
    const local = parseConfig({ repository: { url: './fleet.git' } }, '/etc/fleetcd/fleetcd.yaml');
    assert.equal(local.repository.url, path.join(dir, 'fleet.git'));
  });

  it('parses api.listen into host and port, and refuses ports out of range', () => {
    const api = (listen: string) => parseConfig({ ...minimal, api: { listen } }, 'fleetcd.yaml').api;
    assert.deepEqual(api('0.0.0.0:0'), { host: '0.0.0.0', port: 0, tokens: [], requireReadToken: false, ...apiLimits });
    assert.deepEqual(api('localhost:65535'), { host: 'localhost', port: 65535, tokens: [], requireReadToken: false, ...apiLimits });
    assert.deepEqual(api('[::1]:9110'), { host: '::1', port: 9110, tokens: [], requireReadToken: false, ...apiLimits });
    for (const bad of ['127.0.0.1:65536', '::1:9110', '127.0.0.1', ':9110', '127.0.0.1:-1']) {
      assert.match(problemsOf({ ...minimal, api: { listen: bad } }), /^fleetcd\.yaml: api\.listen: must be host:port/, bad);
    }
  });

  it('takes api.timeouts as durations with defaults per key, names a bad one, and keeps headers within request', () => {
    const api = (extra: Record<string, unknown>) => parseConfig({ ...minimal, api: extra }, 'fleetcd.yaml').api;
    assert.deepEqual(api({ timeouts: { request: '1m' }, maxConnections: 64 }).timeouts, { headersMs: 10_000, requestMs: 60_000, keepAliveMs: 5_000 });
    assert.equal(api({ maxConnections: 64 }).maxConnections, 64);
    assert.equal(problemsOf({ ...minimal, api: { timeouts: { request: 'soon' } } }), 'fleetcd.yaml: api.timeouts.request: must be a duration like 90s, 15m or 2h, got "soon"');
    assert.equal(problemsOf({ ...minimal, api: { timeouts: { keepAlive: '0s' } } }), 'fleetcd.yaml: api.timeouts.keepAlive: must be longer than 0, got "0s"');
    assert.equal(problemsOf({ ...minimal, api: { timeouts: { headers: '1m' } } }), 'fleetcd.yaml: api.timeouts.headers: must be at most api.timeouts.request (30s), got "1m"');
    assert.equal(problemsOf({ ...minimal, api: { maxConnections: 'lots' } }), 'fleetcd.yaml: api.maxConnections: must be an integer ≥ 1, got "lots"');
    assert.equal(problemsOf({ ...minimal, api: { timeouts: { idle: '5s' } } }), 'fleetcd.yaml: api.timeouts.idle: unknown key');
  });

  it('refuses target names and variable names Ansible could not use', () => {
    const message = problemsOf({ ...minimal, targets: { '-web': {}, db: { extraVars: { 'db-host': 'x' } } } });
    assert.ok(message.includes('fleetcd.yaml: targets.-web: must be a target name'), message);
    assert.ok(message.includes('fleetcd.yaml: targets.db.extraVars.db-host: must be a variable name'), message);
  });

  it('refuses durations of zero where a loop would spin, and beyond what a timer can hold', () => {
    const message = problemsOf({ ...minimal, reconcile: { interval: '0s', timeout: '30d', shutdownGrace: '0s' } });
    assert.equal(
      message,
      [
        'fleetcd.yaml: reconcile.interval: must be longer than 0, got "0s"',
        'fleetcd.yaml: reconcile.timeout: must be at most 24d20h31m23s647ms, got "30d"',
      ].join('\n'),
    );
  });

  it('treats a section left empty in YAML as not set', () => {
    const config = parseConfig({ ...minimal, api: null, ansible: null, reconcile: null, targets: { web: null } }, 'fleetcd.yaml');
    assert.deepEqual(config.api, { host: '127.0.0.1', port: 9110, tokens: [], requireReadToken: false, ...apiLimits });
    assert.equal(config.reconcile.mode, 'detect');
    assert.deepEqual(config.targets, { web: {} });
  });
});

describe('operations settings', () => {
  it('refuses a dependency cycle, naming it', () => {
    const raw = { ...minimal, targets: { prod: { dependsOn: ['staging'] }, staging: { dependsOn: ['canary'] }, canary: { dependsOn: ['prod'] } } };
    assert.equal(problemsOf(raw), 'fleetcd.yaml: targets.canary.dependsOn: forms a dependency cycle: canary → prod → staging → canary');
    assert.equal(problemsOf({ ...minimal, targets: { web: { dependsOn: ['web'] } } }), 'fleetcd.yaml: targets.web.dependsOn: forms a dependency cycle: web → web');
  });

  it('names a bad window, jitter or retry with what was found', () => {
    const windows = (window: Record<string, unknown>) => problemsOf({ ...minimal, reconcile: { applyWindows: [window] } });
    assert.match(windows({ cron: 'at two', duration: '2h' }), /^fleetcd\.yaml: reconcile\.applyWindows\.0\.cron: must be a cron expression .*, got "at two"$/);
    assert.match(windows({ cron: '0 2 * * *', duration: '2h', timezone: 'Mars/Olympus' }), /reconcile\.applyWindows\.0\.timezone: must be an IANA time zone .*, got "Mars\/Olympus"$/);
    assert.match(windows({ cron: '0 2 * * *' }), /reconcile\.applyWindows\.0\.duration: is required$/);
    assert.match(problemsOf({ ...minimal, reconcile: { jitter: '150%' } }), /reconcile\.jitter: must be a percentage from 0% to 100%, like 10%, got "150%"$/);
    assert.match(problemsOf({ ...minimal, targets: { web: { retry: { limit: -1 } } } }), /targets\.web\.retry\.limit: must be an integer ≥ 0, got -1$/);
    assert.match(problemsOf({ ...minimal, retention: { maxRunsPerTarget: 0 } }), /retention\.maxRunsPerTarget: must be an integer ≥ 1, got 0$/);
  });

  it('takes retention ages longer than a timer can hold', () => {
    assert.equal(parseConfig({ ...minimal, retention: { maxAge: '365d' } }, 'fleetcd.yaml').retention.maxAgeMs, 365 * 86_400_000);
  });
});

describe('configPath', () => {
  it('prefers --config, then FLEETCD_CONFIG, then the default', () => {
    const env = { FLEETCD_CONFIG: '/env/fleetcd.yaml' };
    assert.equal(configPath('/flag/fleetcd.yaml', env), '/flag/fleetcd.yaml');
    assert.equal(configPath(undefined, env), '/env/fleetcd.yaml');
    assert.equal(configPath(undefined, {}), '/etc/fleetcd/fleetcd.yaml');
    assert.equal(configPath(undefined, { FLEETCD_CONFIG: '' }), '/etc/fleetcd/fleetcd.yaml');
  });
});

describe('readSecretFile', () => {
  it('returns the value without the trailing newline', (t) => {
    const file = writeFile(tempDir(t), 'token', '  s3cret-token\n');
    assert.equal(readSecretFile(file, 'api.tokenFile'), 's3cret-token');
  });

  it('names the key when the file is missing or empty', (t) => {
    const dir = tempDir(t);
    const missing = path.join(dir, 'missing');
    assert.equal(configErrorOf(() => readSecretFile(missing, 'repository.tokenFile')), `repository.tokenFile: cannot read ${missing}: no such file`);
    const empty = writeFile(dir, 'empty', '\n');
    assert.equal(configErrorOf(() => readSecretFile(empty, 'repository.tokenFile')), `repository.tokenFile: ${empty} is empty`);
  });
});
