import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/index.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

// scripts/install.sh into a temporary root (--root DIR): the same files, users and modes a real install
// makes, inside DIR, checked the way systemd and the daemon would see them. It needs root (chown, useradd).

const projectDir = fileURLToPath(new URL('../..', import.meta.url));
const script = join(projectDir, 'scripts', 'install.sh');
const isRoot = process.getuid?.() === 0;

interface Result {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

function run(command: string, args: readonly string[], options: { cwd?: string } = {}): Result {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, ...options });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

/** The numeric id of `name` in one of DIR's account files (`passwd` or `group`), or undefined. */
function idIn(root: string, file: 'passwd' | 'group', name: string): number | undefined {
  const line = accountLines(root, file).find((fields) => fields[0] === name);
  return line ? Number(line[2]) : undefined;
}

function accountLines(root: string, file: 'passwd' | 'group'): string[][] {
  return readFileSync(join(root, 'etc', file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(':'));
}

function modeOf(path: string): string {
  return (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
}

describe('scripts/install.sh --root DIR', { skip: isRoot ? false : 'needs root (chown, useradd)' }, () => {
  let root: string;
  let first: Result;
  const install = (...args: string[]) => run('bash', [script, '--root', root, ...args]);
  const inRoot = (...parts: string[]) => join(root, ...parts);
  const app = (...parts: string[]) => inRoot('opt', 'fleetcd', ...parts);

  before(() => {
    assert.ok(existsSync(join(projectDir, 'dist', 'cli', 'main.js')), 'build first: npm run build');
    root = tempDir('fleetcd-install-');
    first = install();
  });

  after(() => removeDir(root));

  test('installs the built app with production dependencies only', () => {
    assert.equal(first.code, 0, first.out + first.err);
    for (const file of ['dist/cli/main.js', 'bin/fleetcd', 'package.json', 'package-lock.json', 'README.md', 'systemd/fleetcd.service']) {
      assert.ok(existsSync(app(file)), `${file} is installed`);
    }
    assert.ok(existsSync(app('ansible', 'callback_plugins', 'fleetcd_events.py')));
    assert.ok(existsSync(app('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node')));
    assert.ok(existsSync(app('node_modules', 'fastify', 'package.json')));
    assert.ok(!existsSync(app('node_modules', 'typescript')), 'no dev dependencies');
    assert.ok(!existsSync(app('node_modules', 'tsx')), 'no dev dependencies');
    assert.equal(statSync(app('dist', 'cli', 'main.js')).uid, 0, 'the app belongs to root, not to fleetcd');
    assert.match(first.out, /systemctl enable --now fleetcd/);
  });

  test('links /usr/local/bin/fleetcd to the app', () => {
    assert.ok(lstatSync(inRoot('usr', 'local', 'bin', 'fleetcd')).isSymbolicLink());
    assert.equal(readlinkSync(inRoot('usr', 'local', 'bin', 'fleetcd')), '/opt/fleetcd/bin/fleetcd');
  });

  test('creates the system user and group fleetcd, home /var/lib/fleetcd, no login shell', () => {
    const user = accountLines(root, 'passwd').find((fields) => fields[0] === 'fleetcd');
    assert.ok(user, 'user fleetcd exists');
    const [, , uid, gid, , home, shell] = user;
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system uid, got ${uid}`);
    assert.equal(Number(gid), idIn(root, 'group', 'fleetcd'));
    assert.equal(home, '/var/lib/fleetcd');
    assert.match(shell ?? '', /nologin$/);
  });

  test('makes /etc/fleetcd root:fleetcd 0750 and /var/lib/fleetcd fleetcd:fleetcd 0750', () => {
    const uid = idIn(root, 'passwd', 'fleetcd');
    const gid = idIn(root, 'group', 'fleetcd');
    const etc = statSync(inRoot('etc', 'fleetcd'));
    assert.deepEqual([etc.uid, etc.gid, modeOf(inRoot('etc', 'fleetcd'))], [0, gid, '0750']);
    const state = statSync(inRoot('var', 'lib', 'fleetcd'));
    assert.deepEqual([state.uid, state.gid, modeOf(inRoot('var', 'lib', 'fleetcd'))], [uid, gid, '0750']);
  });

  test('writes a random API token, root:fleetcd 0640', () => {
    const token = inRoot('etc', 'fleetcd', 'api-token');
    assert.match(readFileSync(token, 'utf8'), /^[0-9a-f]{64}\n$/);
    const stat = statSync(token);
    assert.deepEqual([stat.uid, stat.gid, modeOf(token)], [0, idIn(root, 'group', 'fleetcd'), '0640']);
  });

  test('writes a starter config the daemon accepts, with a placeholder repository to change', () => {
    const file = inRoot('etc', 'fleetcd', 'fleetcd.yaml');
    assert.equal(modeOf(file), '0640');
    assert.match(readFileSync(file, 'utf8'), /CHANGE ME/);
    const config = loadConfig(file);
    assert.equal(config.repository.url, '/srv/fleet-config.git');
    assert.equal(config.stateDir, '/var/lib/fleetcd');
    assert.deepEqual([config.api.host, config.api.port, config.api.tokenFile], ['127.0.0.1', 9110, '/etc/fleetcd/api-token']);
    assert.equal(config.reconcile.mode, 'detect');
  });

  test('the installed app runs a check against a repository', async () => {
    const work = tempDir('fleetcd-install-run-');
    let repo: FleetRepo | undefined;
    try {
      repo = await createFleetRepo({
        'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.stat: { path: / }\n',
        'inventories/lab.yml': 'all:\n  hosts:\n    one: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
      });
      const config = join(work, 'fleetcd.yaml');
      writeFileSync(config, `repository: { url: ${repo.origin} }\nstateDir: ${join(work, 'state')}\n`);
      const checked = run(process.execPath, [app('bin', 'fleetcd'), 'check', '--config', config], { cwd: work });
      assert.equal(checked.code, 0, checked.out + checked.err);
      assert.match(checked.out, /check of lab .*: succeeded/);
    } finally {
      repo?.cleanup();
      removeDir(work);
    }
  });

  test('installs the unit, which systemd-analyze verify accepts in DIR', () => {
    const unit = readFileSync(inRoot('etc', 'systemd', 'system', 'fleetcd.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/local\/bin\/fleetcd serve --config \/etc\/fleetcd\/fleetcd\.yaml$/m);
    assert.match(unit, /^User=fleetcd$/m);
    // verify checks that ExecStart/ExecReload exist inside DIR (following the link there); a real root has
    // /bin/kill, DIR gets the host's. The rest of a real system (sysinit.target, ...) is not checked.
    mkdirSync(inRoot('bin'), { recursive: true });
    copyFileSync('/bin/kill', inRoot('bin', 'kill'));
    const verified = run('systemd-analyze', ['verify', '--recursive-errors=no', '--man=no', '--generators=no', `--root=${root}`, 'fleetcd.service']);
    assert.equal(verified.code, 0, verified.out + verified.err);
  });

  test('the unit has an overall exposure level of 2.0 or lower', () => {
    const security = run('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--no-pager', 'fleetcd.service']);
    assert.equal(security.code, 0, security.err);
    const level = /Overall exposure level for fleetcd\.service: (\d+\.\d+)/.exec(security.out)?.[1];
    assert.ok(level !== undefined, security.out);
    assert.ok(Number(level) <= 2, `exposure ${level}:\n${security.out}`);
  });

  test('a second run keeps the token, the config and the user', () => {
    const files = ['api-token', 'fleetcd.yaml'].map((name) => inRoot('etc', 'fleetcd', name));
    const kept = files.map((file) => [readFileSync(file, 'utf8'), statSync(file).mtimeMs]);
    const passwd = readFileSync(inRoot('etc', 'passwd'), 'utf8');
    const second = install();
    assert.equal(second.code, 0, second.out + second.err);
    assert.deepEqual(files.map((file) => [readFileSync(file, 'utf8'), statSync(file).mtimeMs]), kept);
    assert.equal(readFileSync(inRoot('etc', 'passwd'), 'utf8'), passwd);
    assert.match(second.out, /kept the API token/);
    assert.match(second.out, /kept the config/);
    assert.match(second.out, /user fleetcd exists/);
    assert.match(second.out, /fleetcd\.service is up to date/);
    assert.ok(existsSync(app('dist', 'cli', 'main.js')));
    assert.deepEqual(readdirSync(inRoot('opt')), ['fleetcd'], 'the new app was swapped in, nothing left beside it');
  });

  test('--uninstall removes the app, the link and the unit, and keeps config, token and state', () => {
    const removed = install('--uninstall');
    assert.equal(removed.code, 0, removed.out + removed.err);
    assert.ok(!existsSync(app()), 'app removed');
    assert.throws(() => lstatSync(inRoot('usr', 'local', 'bin', 'fleetcd')), { code: 'ENOENT' });
    assert.ok(!existsSync(inRoot('etc', 'systemd', 'system', 'fleetcd.service')), 'unit removed');
    for (const kept of [['etc', 'fleetcd', 'api-token'], ['etc', 'fleetcd', 'fleetcd.yaml'], ['var', 'lib', 'fleetcd']]) {
      assert.ok(existsSync(inRoot(...kept)), `${kept.join('/')} kept`);
    }
    assert.match(removed.out, /Kept/);
    assert.equal(install('--uninstall').code, 0, 'uninstalling twice is fine');
  });

  test('refuses to install from a checkout that was not built, naming the step to run', () => {
    const checkout = tempDir('fleetcd-install-unbuilt-');
    try {
      mkdirSync(join(checkout, 'scripts'));
      copyFileSync(script, join(checkout, 'scripts', 'install.sh'));
      const result = run('bash', [join(checkout, 'scripts', 'install.sh'), '--root', checkout]);
      assert.equal(result.code, 1);
      assert.match(result.err, /dist\/cli\/main\.js is missing: build first \(npm ci && npm run build\)/);
      assert.ok(!existsSync(join(checkout, 'etc')), 'nothing was installed');
    } finally {
      removeDir(checkout);
    }
  });

  test('an unknown option is a usage error (exit 2)', () => {
    const result = install('--perfix', '/opt/x');
    assert.equal(result.code, 2);
    assert.match(result.err, /unknown argument: --perfix/);
  });
});
