import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { messageOf } from '../errors.js';
import type { CommitInfo } from './commit.js';
import type { Mirror } from './mirror.js';

type Verify = NonNullable<Config['repository']['verify']>;

/**
 * `repository.verify`: a tip runs only if `git verify-commit` accepts its signature against the configured
 * keys. SSH signatures are checked with `gpg.ssh.allowedSignersFile`; GPG ones with a GNUPGHOME of our own
 * whose public keyring is the configured keyring file (as `gpg --export` writes it, binary or armored), so
 * neither the daemon user's ~/.gnupg nor its trust settings take part. Results are cached per commit and
 * per version of the key file, so an unchanged refused tip costs nothing and a key added later is noticed.
 */
export class SignaturePolicy {
  private readonly cache = new Map<string, string | null>();

  constructor(
    private readonly verify: Verify,
    private readonly homeRoot: string,
  ) {}

  /** Why the commit must not run, or undefined when its signature is accepted. */
  async refusalOf(mirror: Mirror, commit: CommitInfo): Promise<string | undefined> {
    const keys = this.keysFile();
    let stamp: string;
    try {
      const stat = statSync(keys);
      stamp = `${stat.mtimeMs}:${stat.size}`;
    } catch (error) {
      return `cannot read ${keys} (${this.keysKey()}): ${messageOf(error)}`;
    }
    const key = `${commit.sha}\n${stamp}`;
    if (!this.cache.has(key)) this.cache.set(key, (await this.check(mirror, commit)) ?? null);
    return this.cache.get(key) ?? undefined;
  }

  private async check(mirror: Mirror, commit: CommitInfo): Promise<string | undefined> {
    if (!commit.signature) return 'the commit is not signed';
    if (commit.signature !== this.verify.mode) {
      return `the commit has ${commit.signature === 'gpg' ? 'a GPG' : `an ${commit.signature.toUpperCase()}`} signature, but repository.verify.mode is ${this.verify.mode}`;
    }
    const git =
      this.verify.mode === 'ssh'
        ? mirror.git({}, [`gpg.ssh.allowedSignersFile=${this.keysFile()}`])
        : mirror.git({ GNUPGHOME: this.gnupgHome() });
    try {
      await git.raw(['verify-commit', '--raw', commit.sha]);
      return undefined;
    } catch (error) {
      return `signature not accepted: ${this.explain(messageOf(error))}`;
    }
  }

  private explain(output: string): string {
    const known: Array<[RegExp, string]> = [
      [/NO_PUBKEY|No public key/, `signed by a key that is not in ${this.keysKey()}`],
      [/No principal matched/, `signed by a key that is not in ${this.keysKey()}`],
      [/BADSIG|Bad signature|Could not verify signature/i, 'the signature does not match the commit'],
      [/EXPKEYSIG/, 'signed by an expired key'],
      [/REVKEYSIG/, 'signed by a revoked key'],
      [/EXPSIG/, 'the signature has expired'],
    ];
    const hit = known.find(([pattern]) => pattern.test(output));
    if (hit) return hit[1];
    const lines = output.split('\n').map((line) => line.trim()).filter(Boolean);
    return (lines.at(-1) ?? 'git verify-commit failed').slice(0, 300);
  }

  private keysKey(): string {
    return this.verify.mode === 'ssh' ? 'repository.verify.allowedSignersFile' : 'repository.verify.keyringFile';
  }

  private keysFile(): string {
    const file = this.verify.mode === 'ssh' ? this.verify.allowedSignersFile : this.verify.keyringFile;
    return file ?? '';
  }

  /** A private GNUPGHOME per keyring content: `pubring.gpg` is the keyring, built once and renamed into place. */
  private gnupgHome(): string {
    const keyring = dearmor(readFileSync(this.keysFile()));
    const name = `gnupg-${createHash('sha256').update(keyring).digest('hex').slice(0, 16)}`;
    const home = join(this.homeRoot, name);
    if (existsSync(home)) return home;
    mkdirSync(this.homeRoot, { recursive: true, mode: 0o700 });
    const staging = `${home}.staging-${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { mode: 0o700 });
    writeFileSync(join(staging, 'pubring.gpg'), keyring, { mode: 0o600 });
    // Verifying needs neither gpg-agent nor dirmngr; never start them (or fetch keys from the network).
    writeFileSync(join(staging, 'gpg.conf'), 'no-autostart\n', { mode: 0o600 });
    try {
      renameSync(staging, home);
    } catch (error) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(home)) throw error;
    }
    for (const old of readdirSync(this.homeRoot)) {
      if (old.startsWith('gnupg-') && old !== name) rmSync(join(this.homeRoot, old), { recursive: true, force: true });
    }
    return home;
  }
}

/** `gpg --export --armor` output back to the binary keyring gpg reads as pubring.gpg; binary input unchanged. */
export function dearmor(data: Buffer): Buffer {
  const text = data.toString('latin1');
  const begin = text.indexOf('-----BEGIN PGP PUBLIC KEY BLOCK-----');
  if (begin === -1) return data;
  const parts: Buffer[] = [];
  const blocks = text.slice(begin).split('-----BEGIN PGP PUBLIC KEY BLOCK-----').slice(1);
  for (const block of blocks) {
    const body = block.split('-----END PGP PUBLIC KEY BLOCK-----')[0] ?? '';
    const lines = body.split(/\r?\n/);
    const blank = lines.findIndex((line, i) => i > 0 && line.trim() === '');
    const base64 = lines
      .slice(blank === -1 ? 1 : blank + 1)
      .filter((line) => !/^=[A-Za-z0-9+/]{4}$/.test(line.trim()))
      .join('');
    parts.push(Buffer.from(base64, 'base64'));
  }
  return Buffer.concat(parts);
}
