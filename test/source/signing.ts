import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FleetRepo } from '../helpers/git.js';
import { git, gitTestEnv } from './support.js';

/** An SSH signing key made for the test, and the allowed-signers line that trusts it. */
export type SshSigner = { keyFile: string; allowedSignersLine: string };

export function sshSigner(dir: string, name: string): SshSigner {
  const keyFile = join(dir, `${name}_ed25519`);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', keyFile], { stdio: 'pipe' });
  const [type, key] = readFileSync(`${keyFile}.pub`, 'utf8').trim().split(/\s+/);
  return { keyFile, allowedSignersLine: `${name}@fleetcd.invalid ${type} ${key}` };
}

/** A GPG key in its own GNUPGHOME (batch, no passphrase); its public key exported as a keyring file. */
export type GpgSigner = { home: string; fingerprint: string; keyringFile: string; armoredKeyringFile: string };

export function gpgSigner(t: TestContext, dir: string, name: string): GpgSigner {
  const home = join(dir, `gnupg-${name}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  t.after(() => {
    // The agent that signing started must not outlive the test.
    execFileSync('gpgconf', ['--kill', 'all'], { env: { ...process.env, GNUPGHOME: home }, stdio: 'ignore' });
  });
  const env = { ...process.env, GNUPGHOME: home };
  const params = [
    '%no-protection',
    'Key-Type: EDDSA',
    'Key-Curve: ed25519',
    `Name-Real: ${name}`,
    `Name-Email: ${name}@fleetcd.invalid`,
    'Expire-Date: 0',
    '%commit',
    '',
  ].join('\n');
  execFileSync('gpg', ['--batch', '--quiet', '--gen-key'], { env, input: params, stdio: ['pipe', 'ignore', 'ignore'] });
  const listing = execFileSync('gpg', ['--batch', '--with-colons', '--list-secret-keys'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const fingerprint = /^fpr:(?::*)([0-9A-F]{40}):/m.exec(listing)?.[1];
  if (!fingerprint) throw new Error(`no fingerprint in gpg output:\n${listing}`);
  const keyringFile = join(dir, `${name}.gpg`);
  writeFileSync(keyringFile, execFileSync('gpg', ['--batch', '--export', fingerprint], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const armoredKeyringFile = join(dir, `${name}.asc`);
  writeFileSync(armoredKeyringFile, execFileSync('gpg', ['--batch', '--armor', '--export', fingerprint], { env, stdio: ['ignore', 'pipe', 'pipe'] }));
  return { home, fingerprint, keyringFile, armoredKeyringFile };
}

export type Signature = { ssh: SshSigner } | { gpg: GpgSigner } | 'unsigned';

/** Commits `files` in the work clone, signed as asked, pushes to origin main; returns the sha. */
export function commitSigned(repo: FleetRepo, files: Record<string, string>, message: string, signature: Signature): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repo.work, path)), { recursive: true });
    writeFileSync(join(repo.work, path), content);
  }
  git(repo.work, 'add', '-A');
  const sign =
    signature === 'unsigned'
      ? ['-c', 'commit.gpgsign=false']
      : 'ssh' in signature
        ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${signature.ssh.keyFile}`]
        : ['-c', 'gpg.format=openpgp', '-c', `user.signingkey=${signature.gpg.fingerprint}`];
  const env = signature !== 'unsigned' && 'gpg' in signature ? { ...gitTestEnv, GNUPGHOME: signature.gpg.home } : gitTestEnv;
  const args = [...sign, 'commit', '-q', '--allow-empty', ...(signature === 'unsigned' ? [] : ['-S']), '-m', message];
  execFileSync('git', args, { cwd: repo.work, env, stdio: 'pipe' });
  git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return git(repo.work, 'rev-parse', 'HEAD');
}
