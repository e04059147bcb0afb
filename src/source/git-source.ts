import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Revision } from './revision.js';

const tipRef = 'refs/fleetcd/tip';

/**
 * The fleet repository as the daemon sees it: a bare mirror that fetches only the tip of the watched ref
 * (shallow, forced, so a rewritten branch is followed rather than merged), and one read-only checkout
 * directory per commit, created under a temporary name and renamed into place so no run sees half a tree.
 */
export class GitSource {
  private readonly mirror: string;
  private readonly checkouts: string;

  constructor(
    private readonly repo: Config['repository'],
    stateDir: string,
    private readonly env: Record<string, string> = {},
  ) {
    this.mirror = join(stateDir, 'source', 'mirror.git');
    this.checkouts = join(stateDir, 'source', 'revisions');
  }

  /** The ref this source follows, as people say it. */
  get ref(): string {
    return this.repo.revision ?? this.repo.branch ?? 'main';
  }

  /** Fetches the tip and makes sure its checkout exists. Throws a retryable FleetError('source') on failure. */
  async fetch(): Promise<Revision> {
    const git = await this.openMirror();
    try {
      await git.raw(['fetch', '--no-tags', '--depth=1', '--force', 'origin', `+${this.remoteRef()}:${tipRef}`]);
    } catch (error) {
      throw this.sourceError(`cannot fetch ${this.ref}`, error);
    }
    const sha = (await git.raw(['rev-parse', '--verify', `${tipRef}^{commit}`])).trim();
    return this.checkout(git, sha);
  }

  /** Removes checkouts beyond the newest `keep`, except the ones still in use. */
  prune(keep: number, inUse: ReadonlySet<string>): string[] {
    if (!existsSync(this.checkouts)) return [];
    const entries = readdirSync(this.checkouts)
      .filter((name) => /^[0-9a-f]{40}$/.test(name))
      .map((name) => ({ name, mtime: statSync(join(this.checkouts, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    const removed: string[] = [];
    for (const entry of entries.slice(keep)) {
      if (inUse.has(entry.name)) continue;
      rmSync(join(this.checkouts, entry.name), { recursive: true, force: true });
      removed.push(entry.name);
    }
    return removed;
  }

  private remoteRef(): string {
    const pin = this.repo.revision;
    if (!pin) return `refs/heads/${this.repo.branch ?? 'main'}`;
    if (/^[0-9a-f]{40}$/.test(pin)) return pin;
    return `refs/tags/${pin}`;
  }

  private async openMirror(): Promise<SimpleGit> {
    if (existsSync(join(this.mirror, 'HEAD'))) {
      const git = this.git(this.mirror);
      try {
        await git.raw(['rev-parse', '--git-dir']);
        await git.remote(['set-url', 'origin', this.repo.url]);
        return git;
      } catch {
        // A corrupt mirror is only a cache: start it again.
        rmSync(this.mirror, { recursive: true, force: true });
      }
    }
    mkdirSync(this.mirror, { recursive: true });
    const git = this.git(this.mirror);
    await git.init(true);
    await git.addConfig('gc.auto', '0');
    await git.remote(['add', 'origin', this.repo.url]);
    return git;
  }

  private async checkout(git: SimpleGit, sha: string): Promise<Revision> {
    const dir = join(this.checkouts, sha);
    if (!existsSync(dir)) {
      const staging = join(this.checkouts, `.staging-${sha}-${process.pid}`);
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      const index = `${staging}.index`;
      try {
        const tree = this.git(this.mirror, { GIT_INDEX_FILE: index, GIT_WORK_TREE: staging });
        await tree.raw(['read-tree', sha]);
        await tree.raw(['checkout-index', '--all', '--force']);
        renameSync(staging, dir);
      } catch (error) {
        rmSync(staging, { recursive: true, force: true });
        throw this.sourceError(`cannot check out ${sha}`, error);
      } finally {
        rmSync(index, { force: true });
      }
    }
    const [subject = '', author = '', committedAt = ''] = (
      await git.raw(['show', '-s', '--format=%s%x00%an <%ae>%x00%cI', sha])
    )
      .trim()
      .split('\0');
    return {
      sha,
      ref: this.ref,
      fetchedAt: new Date().toISOString(),
      subject,
      author,
      committedAt: new Date(committedAt).toISOString(),
      dir,
      root: join(dir, this.repo.path),
    };
  }

  private git(baseDir: string, extraEnv: Record<string, string> = {}): SimpleGit {
    return simpleGit({ baseDir }).env({ ...safeGitEnv(), ...this.env, ...extraEnv });
  }

  private sourceError(what: string, error: unknown): FleetError {
    const detail = messageOf(error).replace(/\s+/g, ' ').trim();
    return new FleetError('source', `${what} from ${redactUrl(this.repo.url)}: ${detail}`, {
      cause: error,
      retryable: true,
    });
  }
}

/** git must never stop to ask for a password or read the user's git config for credentials. */
function safeGitEnv(): Record<string, string> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  for (const key of ['PATH', 'HOME', 'LANG', 'SSH_AUTH_SOCK']) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

/** A URL fit to show: any user:password@ part is removed. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}
