import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { credentialHelper, gitConfigEntries, gitEnv, sshCommand, tokenUsername } from '../../src/source/git-env.js';
import { shellQuote } from '../../src/ssh-words.js';
import { redactUrl, redactUrls } from '../../src/source/index.js';
import { startSshHosts } from '../helpers/sshd.js';
import { startHttpGitServer } from './http-git-server.js';
import { fleetRepo, makeSource, makeWatchedFleet, rejection, repositoryConfig, scratch, writeFile } from './support.js';

const run = promisify(execFile);

/** Every file under `dir`, as bytes, joined: what a secret must not appear in. */
function everyByteUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  const walk = (path: string): void => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
    else if (stat.isFile()) parts.push(readFileSync(path));
  };
  walk(dir);
  return Buffer.concat(parts);
}

/** `ps` snapshots (args, and BSD `e` for environments) taken every few ms until `work` settles. */
async function watchProcesses<T>(work: Promise<T>): Promise<{ result: T; samples: string[] }> {
  let done = false;
  const settled = work.finally(() => {
    done = true;
  });
  const samples: string[] = [];
  while (!done) {
    const [args, env] = await Promise.all([run('ps', ['-eww', '-o', 'pid=,args=']), run('ps', ['axeww'])]);
    samples.push(args.stdout, env.stdout);
    await sleep(5);
  }
  return { result: await settled, samples };
}

describe('git source: credentials', () => {
  it('builds GIT_SSH_COMMAND that git splits into exactly the intended ssh words, odd paths included', async (t) => {
    const dir = scratch(t);
    const keyFile = join(dir, "it's a dir", 'client key');
    const knownHosts = join(dir, 'known hosts %h');
    const repo = repositoryConfig(dir, { url: 'ssh://git@example.invalid/fleet.git', sshKeyFile: keyFile, knownHostsFile: knownHosts });
    const printer = writeFile(
      join(dir, 'print argv.cjs'),
      `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(join(dir, 'argv.json'))}, JSON.stringify(process.argv.slice(2)));\nprocess.exit(1);\n`,
      0o755,
    );
    const command = sshCommand(repo).replace(/^ssh /, `${shellQuote(printer)} `);

    spawnSync('git', ['ls-remote', 'ssh://git@example.invalid/fleet.git'], {
      env: { PATH: process.env.PATH, GIT_SSH_COMMAND: command, GIT_TERMINAL_PROMPT: '0' },
      stdio: 'ignore',
    });

    const argv = JSON.parse(readFileSync(join(dir, 'argv.json'), 'utf8')) as string[];
    assert.deepEqual(argv.slice(0, 12), [
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=30',
      '-i',
      keyFile,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile="${knownHosts.replace('%', '%%')}"`,
      '-o',
      'StrictHostKeyChecking=yes',
    ]);
    assert.ok(argv.includes('git@example.invalid'));
  });

  it('turns host key checking off only when asked, and never prompts', () => {
    const dir = '/etc/fleetcd';
    assert.equal(sshCommand(repositoryConfig(dir, { url: 'ssh://h/r' })), 'ssh -o BatchMode=yes -o ConnectTimeout=30 -o StrictHostKeyChecking=yes');
    assert.match(sshCommand(repositoryConfig(dir, { url: 'ssh://h/r', strictHostKeyChecking: false })), /StrictHostKeyChecking=no$/);
    const env = gitEnv(repositoryConfig(dir, { url: 'ssh://h/r' }), { PATH: '/usr/bin', GIT_DIR: '/elsewhere', SECRET: 'x' });
    assert.equal(env.GIT_TERMINAL_PROMPT, '0');
    assert.equal(env.GIT_DIR, undefined, 'only allow-listed variables reach git');
    assert.equal(env.SECRET, undefined);
  });

  it('passes credentials through a helper that reads the files itself: neither the env nor the argv holds a secret', (t) => {
    const dir = scratch(t);
    const token = `tok-${randomBytes(8).toString('hex')}`;
    const tokenFile = writeFile(join(dir, "token's file"), `  ${token}  \n`);
    const repo = repositoryConfig(dir, { url: 'https://git.example.invalid/fleet.git', tokenFile });

    const env = gitEnv(repo);
    assert.ok(!JSON.stringify(env).includes(token), 'the environment holds the path, not the token');
    assert.deepEqual(gitConfigEntries(repo)[0], ['credential.helper', ''], 'the user’s own helpers are reset first');
    const helper = credentialHelper(repo)!;
    assert.equal(env.GIT_CONFIG_VALUE_3, helper);
    assert.equal(env.GIT_CONFIG_KEY_3, 'credential.helper');
    assert.ok(helper.startsWith('!'));

    const snippet = helper.slice(1);
    const get = execFileSync('sh', ['-c', `${snippet} "$@"`, snippet, 'get'], { encoding: 'utf8', input: 'protocol=https\n' });
    assert.equal(get, `username=${tokenUsername}\npassword=${token}\n`, 'surrounding blanks are trimmed');
    const store = execFileSync('sh', ['-c', `${snippet} "$@"`, snippet, 'store'], { encoding: 'utf8', input: '' });
    assert.equal(store, '');

    const userFile = writeFile(join(dir, 'user'), 'deploy\n');
    const passFile = writeFile(join(dir, 'pass'), 'p@ss word\n');
    const basic = credentialHelper(repositoryConfig(dir, { url: 'https://h/r', usernameFile: userFile, passwordFile: passFile }))!.slice(1);
    assert.equal(execFileSync('sh', ['-c', `${basic} "$@"`, basic, 'get'], { encoding: 'utf8' }), 'username=deploy\npassword=p@ss word\n');
  });

  it('strips credentials from URLs it shows', () => {
    assert.equal(redactUrl('https://user:secret@git.example/fleet.git'), 'https://git.example/fleet.git');
    assert.equal(redactUrl('https://tok3n@git.example/fleet.git'), 'https://git.example/fleet.git');
    assert.equal(redactUrl('ssh://git:pw@git.example/fleet.git'), 'ssh://git@git.example/fleet.git');
    assert.equal(redactUrl('git@git.example:org/fleet.git'), 'git@git.example:org/fleet.git');
    assert.equal(
      redactUrls("fatal: unable to access 'https://u:p@h.example/x.git/': 403"),
      "fatal: unable to access 'https://h.example/x.git/': 403",
    );
  });

  it('fetches an ssh:// remote through sshd with the configured key and known_hosts, paths with blanks and quotes', async (t) => {
    const hosts = await startSshHosts(1);
    t.after(() => hosts.stop());
    const repo = await fleetRepo(t, { 'site.yml': 'over ssh\n' });
    const dir = scratch(t);
    const keyFile = join(dir, "it's a dir", 'client key');
    mkdirSync(dirname(keyFile), { recursive: true });
    copyFileSync(hosts.keyFile, keyFile);
    writeFileSync(keyFile, readFileSync(hosts.keyFile), { mode: 0o600 });
    const knownHostsFile = join(dir, 'known hosts %d');
    copyFileSync(hosts.knownHostsFile, knownHostsFile);
    const url = `ssh://root@127.0.0.1:${hosts.hosts[0]!.port}${repo.origin}`;
    const { source } = makeSource(t, dir, { url, sshKeyFile: keyFile, knownHostsFile });

    const revision = await source.fetch();

    assert.equal(revision.sha, repo.head());
    assert.equal(readFileSync(join(revision.dir, 'site.yml'), 'utf8'), 'over ssh\n');
  });

  it('refuses an ssh:// host whose key is not in knownHostsFile (strict checking is the default)', async (t) => {
    const hosts = await startSshHosts(1);
    t.after(() => hosts.stop());
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const port = hosts.hosts[0]!.port;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'impostor')]);
    const [type, key] = readFileSync(join(dir, 'impostor.pub'), 'utf8').split(' ');
    const knownHostsFile = writeFile(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${type} ${key}\n`);
    const { source } = makeSource(t, dir, {
      url: `ssh://root@127.0.0.1:${port}${repo.origin}`,
      sshKeyFile: hosts.keyFile,
      knownHostsFile,
    });

    const error = await rejection(source.fetch());

    assert.match(error.message, /Host key verification failed/);
  });

  for (const kind of ['tokenFile', 'usernameFile + passwordFile'] as const) {
    it(`fetches over HTTP with ${kind}; no secret shows in ps (args or env), logs, the database, the state dir or the API`, async (t) => {
      const repo = await fleetRepo(t, { 'site.yml': 'over http\n' });
      const dir = scratch(t);
      const secret = `s3cr3t-${randomBytes(12).toString('hex')}`;
      const username = kind === 'tokenFile' ? tokenUsername : 'deploy-bot';
      const server = await startHttpGitServer(dirname(repo.origin), { username, password: secret }, 150);
      t.after(() => server.stop());
      const secretFile = writeFile(join(dir, 'secret'), `${secret}\n`);
      const credentials =
        kind === 'tokenFile'
          ? { tokenFile: secretFile }
          : { usernameFile: writeFile(join(dir, 'user'), `${username}\n`), passwordFile: secretFile };

      const { result: parts, samples } = await watchProcesses(
        makeWatchedFleet(t, dir, { url: server.url('origin.git'), webhookSecretFile: secretFile, ...credentials }),
      );
      const { fleet, api, stateDir, logFile } = parts;

      assert.equal(fleet.sourceView()?.sha, repo.head(), 'the authenticated fetch worked');
      assert.ok(server.authorizations.includes(`Basic ${Buffer.from(`${username}:${secret}`).toString('base64')}`));
      assert.ok(server.authorizations.includes(undefined), 'git asked the helper only after a 401 challenge');
      assert.ok(
        samples.some((sample) => /git(-remote-http| fetch| remote-http)/.test(sample)),
        'ps was sampled while git was fetching',
      );
      for (const sample of samples) assert.ok(!sample.includes(secret), 'no secret in ps output');

      writeFileSync(secretFile, 'wrong-secret\n');
      await repo.commit({ 'b.yml': 'b\n' }, 'b');
      await fleet.fetchNow();
      const error = fleet.status().source.error ?? '';
      assert.match(error, /cannot fetch main from http:\/\/127\.0\.0\.1:\d+\/origin\.git: .*Authentication failed/);

      const answers = await Promise.all(
        ['/api/v1/source', '/api/v1/status'].map(async (url) => (await api.inject({ method: 'GET', url })).body),
      );
      for (const text of [...answers, error, readFileSync(logFile, 'utf8')]) assert.ok(!text.includes(secret));
      const state = everyByteUnder(stateDir);
      assert.ok(state.length > 0);
      assert.equal(state.indexOf(secret), -1, 'no secret anywhere under the state dir (database, WAL, mirror config)');
    });
  }

  it('shows a URL with embedded credentials without them, in the source view and in errors', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const server = await startHttpGitServer(dirname(repo.origin), { username: 'u', password: 'embedded-pw' });
    t.after(() => server.stop());
    const url = server.url('origin.git').replace('http://', 'http://u:embedded-pw@');
    const { fleet, api } = await makeWatchedFleet(t, dir, { url });

    assert.equal(fleet.sourceView()?.sha, repo.head());
    const body = (await api.inject({ method: 'GET', url: '/api/v1/source' })).json() as { url: string };
    assert.equal(body.url, server.url('origin.git'));
    assert.ok(!JSON.stringify(body).includes('embedded-pw'));
  });
});
