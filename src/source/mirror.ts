import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { simpleGit, type SimpleGit } from 'simple-git';
import { FleetError, messageOf } from '../errors.js';
import { parseCommit, type CommitInfo } from './commit.js';
import { allowedUnsafe } from './git-env.js';

/** Where the fetched tip lives in the mirror; each fetch moves it (forced), so a rewrite is followed, not merged. */
export const tipRef = 'refs/fleetcd/tip';
const probeRef = 'refs/fleetcd/probe';
/** How far back a moved tip is searched for the previous one before "force-pushed?" is left unanswered. */
const probeDepth = 64;
/** A git process that prints nothing for this long is stopped. */
const silenceLimitMs = 120_000;
/** A lock file older than this outlived the git process that made it. */
const staleLockMs = 2 * silenceLimitMs;

/**
 * Every fetch: forced (a rewritten branch replaces the tip), no tags, no FETCH_HEAD, and no opportunistic
 * update of refs/remotes/* (`--refmap=`), so only the tip ref keeps objects alive.
 */
export const fetchFlags = ['--no-tags', '--no-write-fetch-head', '--force', '--refmap='];
/**
 * For commands that print nothing on success: simple-git waits 50 ms for a process that was silent, and a
 * trace line on stderr (dropped from error messages) avoids that on the path from push to run.
 */
const chatty = { GIT_TRACE: '1' };

/** A failure inside the mirror rather than at the remote: the mirror is only a cache, so clone it again. */
export class MirrorDamaged extends Error {
  override readonly name = 'MirrorDamaged';
}

/** Errors that come from the remote or the way to it; any other failure of a fetch means the mirror is damaged. */
const remoteProblems = [
  /couldn't find remote ref/i,
  /could not read from remote repository/i,
  /unable to access/i,
  /authentication failed/i,
  /host key verification failed/i,
  /permission denied/i,
  /(?<!'origin' )does not appear to be a git repository/i,
  /repository .*not found/i,
  /could not resolve host/i,
  /failed to connect/i,
  /connection (refused|timed out|reset|closed)/i,
  /ssh: connect to host/i,
  /the remote end hung up/i,
  /not our ref/i,
  /unadvertised object/i,
  /the requested url returned error/i,
  /ssl|certificate/i,
  /block timeout reached/i,
];

/** A bare repository holding only what the source fetched: shallow tips, never a working tree. */
export class Mirror {
  private opened = false;

  constructor(
    readonly dir: string,
    private readonly url: string,
    private readonly env: Record<string, string>,
  ) {}

  /** A git bound to the mirror with the source's environment; `config` entries become `-c key=value`. */
  git(extraEnv: Record<string, string> = {}, config: string[] = []): SimpleGit {
    return simpleGit({ baseDir: this.dir, unsafe: allowedUnsafe, timeout: { block: silenceLimitMs }, config }).env({
      ...this.env,
      ...extraEnv,
    });
  }

  /**
   * A git for one request's work in the mirror (a comparison): the source's environment and silence limit, and
   * stopped when `signal` aborts (the caller's overall time or output bound).
   */
  bounded(signal: AbortSignal): SimpleGit {
    return simpleGit({ baseDir: this.dir, unsafe: allowedUnsafe, timeout: { block: silenceLimitMs }, abort: signal }).env(this.env);
  }

  /**
   * Fetches `remoteRef` (a ref, or a full sha) at depth 1 into the tip ref and returns the commit's sha.
   * Throws a FleetError('source') for a remote problem and MirrorDamaged for anything else.
   */
  async fetchTip(remoteRef: string, localRef = tipRef): Promise<string> {
    await this.open();
    try {
      // -v: git then always prints something, which spares simple-git's 50 ms wait for a silent process.
      await this.git().raw(['fetch', '-v', ...fetchFlags, '--depth=1', 'origin', `+${remoteRef}:${localRef}`]);
    } catch (error) {
      const text = messageOf(error);
      if (/\.lock'?: File exists|cannot lock ref/i.test(text)) throw this.locked(text, error);
      if (!remoteProblems.some((pattern) => pattern.test(text))) throw this.damaged('fetch failed', error);
      throw error;
    }
    const loose = remoteRef.startsWith('refs/heads/') ? this.looseRef(localRef) : undefined;
    if (loose) return loose;
    return this.local('cannot read the fetched tip', async (git) => (await git.raw(['rev-parse', '--verify', `${localRef}^{commit}`])).trim());
  }

  /**
   * Makes sure the mirror holds commit `sha` (fetching it by sha, depth 1, when it does not), under a ref of its
   * own so that it stays while a target is held there.
   */
  async fetchCommit(sha: string): Promise<void> {
    await this.open();
    const present = await this.git()
      .raw(['cat-file', '-e', `${sha}^{commit}`])
      .then(
        () => true,
        () => false,
      );
    if (!present) await this.git().raw(['fetch', '-v', ...fetchFlags, '--depth=1', 'origin', `+${sha}:refs/fleetcd/held/${sha}`]);
    else await this.git(chatty).raw(['update-ref', `refs/fleetcd/held/${sha}`, sha]);
  }

  /** The remote's sha for a ref (`refs/heads/x`, `refs/tags/x`), or null when it has no such ref. Fetches nothing. */
  async remoteSha(ref: string): Promise<string | null> {
    await this.open();
    const out = await this.git().raw(['ls-remote', 'origin', ref]);
    const line = out.split('\n').find((l) => l.split('\t')[1] === ref || l.split('\t')[1] === `${ref}^{}`);
    return line?.split('\t')[0] ?? null;
  }

  /** Names of the remote's branches, to tell an empty repository from a missing branch. */
  async remoteBranches(): Promise<string[]> {
    const out = await this.git().raw(['ls-remote', '--heads', 'origin']);
    return out
      .split('\n')
      .map((line) => line.split('\t')[1]?.replace(/^refs\/heads\//, ''))
      .filter((name): name is string => Boolean(name));
  }

  async commit(sha: string): Promise<CommitInfo> {
    return this.local(`cannot read commit ${sha}`, async (git) => parseCommit(sha, await git.raw(['cat-file', 'commit', sha])));
  }

  /** Writes the commit's tree into `dir` (which must not exist) via a staging dir renamed into place. */
  async materialize(sha: string, dir: string): Promise<void> {
    const staging = `${dir}.staging-${process.pid}`;
    const index = `${staging}.index`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    try {
      await this.local(`cannot check out ${sha}`, async () => {
        await this.git({ ...chatty, GIT_INDEX_FILE: index, GIT_WORK_TREE: staging }).raw(['read-tree', '--reset', '-u', sha]);
      });
      renameSync(staging, dir);
    } catch (error) {
      // Another fleetcd process (a one-shot verb) may have put the same commit in place first.
      if (!existsSync(dir)) throw error;
    } finally {
      rmSync(staging, { recursive: true, force: true });
      rmSync(index, { force: true });
    }
  }

  /**
   * Whether `tip` descends from `previous`: yes when `previous` is a parent; otherwise the last commits of the
   * branch are fetched (bounded) and searched. Undefined when the answer lies beyond what was fetched.
   */
  async descends(previous: string, tip: CommitInfo, remoteRef: string): Promise<boolean | undefined> {
    if (tip.parents.includes(previous)) return true;
    if (!remoteRef.startsWith('refs/heads/')) return undefined;
    const git = this.git();
    try {
      await git.raw(['fetch', '-v', ...fetchFlags, `--depth=${probeDepth}`, 'origin', `+${remoteRef}:${probeRef}`]);
      const probe = (await git.raw(['rev-parse', '--verify', `${probeRef}^{commit}`])).trim();
      if (probe !== tip.sha) return undefined;
      const walked = (await git.raw(['rev-list', tip.sha])).split('\n').filter(Boolean);
      if (walked.includes(previous)) return true;
      return walked.some((sha) => this.shallowCommits().has(sha)) ? undefined : false;
    } catch {
      return undefined;
    } finally {
      await this.git(chatty).raw(['update-ref', '-d', probeRef]).catch(() => undefined);
    }
  }

  /**
   * `git gc --auto` (the mirror's own gc.auto is 0, so fetches never stop for it): packs and prunes once loose
   * objects pile up, a no-op otherwise. The watcher calls it between fetches.
   */
  async gc(): Promise<void> {
    if (!existsSync(join(this.dir, 'HEAD'))) return;
    await this.git(chatty, ['gc.auto=256', 'gc.autoPackLimit=20']).raw(['gc', '--auto', '--quiet']);
  }

  /**
   * Deletes the refs under `prefix` (`refs/fleetcd/preview/`) whose commit `keep` refuses, each only if it still
   * points there (a fetch may have moved it since), so their objects can go at the next gc. How many went.
   */
  async pruneRefs(prefix: string, keep: (sha: string) => boolean): Promise<number> {
    if (!existsSync(join(this.dir, 'HEAD'))) return 0;
    const listed = await this.git().raw(['for-each-ref', '--format=%(objectname) %(refname)', prefix]);
    let removed = 0;
    for (const line of listed.split('\n').filter(Boolean)) {
      const [sha = '', ref = ''] = line.split(' ');
      if (keep(sha)) continue;
      await this.git(chatty).raw(['update-ref', '-d', ref, sha]);
      removed += 1;
    }
    return removed;
  }

  /** Forgets everything fetched; the next fetch clones again. */
  reset(): void {
    rmSync(this.dir, { recursive: true, force: true });
    this.opened = false;
  }

  /** The sha in a loose ref file (fetch writes them; nothing here packs refs), without starting git. */
  private looseRef(ref: string): string | undefined {
    try {
      const sha = readFileSync(join(this.dir, ref), 'utf8').trim();
      return /^[0-9a-f]{40}$/.test(sha) ? sha : undefined;
    } catch {
      return undefined;
    }
  }

  /** The commits whose parents the mirror does not hold (the edge of a shallow fetch). */
  shallowCommits(): Set<string> {
    const file = join(this.dir, 'shallow');
    return new Set(existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
  }

  /** Creates the mirror (or points it at the configured URL) before the first git command that needs it. */
  async open(): Promise<void> {
    const exists = existsSync(join(this.dir, 'HEAD'));
    if (this.opened && exists) return;
    if (exists) {
      await this.local('cannot open the mirror', (git) => git.remote(['set-url', 'origin', this.url]));
      this.opened = true;
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    const git = this.git();
    await git.init(true);
    await git.addConfig('gc.auto', '0');
    await git.remote(['add', 'origin', this.url]);
    this.opened = true;
  }

  private async local<T>(what: string, step: (git: SimpleGit) => Promise<T>): Promise<T> {
    try {
      return await step(this.git());
    } catch (error) {
      if (error instanceof MirrorDamaged || error instanceof FleetError) throw error;
      throw this.damaged(what, error);
    }
  }

  /**
   * A git process of ours still holds a lock in the mirror (a fetch the watcher gave up waiting for): wait for
   * the next poll. A lock older than any git process may live was left by a killed one: clone again.
   */
  private locked(text: string, error: unknown): Error {
    const lock = /'([^']+\.lock)'/.exec(text)?.[1];
    const age = lock && existsSync(lock) ? Date.now() - statSync(lock).mtimeMs : 0;
    if (age > staleLockMs) return this.damaged(`a stale lock (${lock})`, error);
    return new FleetError('source', `the local mirror is busy (${lock ?? 'a lock'} is held by another git process); retrying`, {
      cause: error,
      retryable: true,
    });
  }

  private damaged(what: string, error: unknown): MirrorDamaged {
    const detail = messageOf(error)
      .split('\n')
      .filter((line) => !/^[\d:.]+ \S+:\d+\s+trace: /.test(line))
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    return new MirrorDamaged(`${what}: ${detail}`, { cause: error });
  }
}
