import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { z } from 'zod';
import { revisionRecordSchema, type RevisionInput, type RevisionRecord, type SourceHistory, type SourceKey } from './history.js';
import type { CommitInfo } from './commit.js';
import { gitEnv } from './git-env.js';
import { compareRevisions, type Lineage, type LineageBounds } from './lineage.js';
import { Mirror, MirrorDamaged } from './mirror.js';
import { checkoutPathProblem } from './paths.js';
import type { Revision } from './revision.js';
import { SignaturePolicy } from './verify.js';

export type GitSourceOptions = {
  /** Where seen tips are kept, across restarts. */
  history: SourceHistory;
  log?: Logger;
  /** Extra environment for git, over the one built from the config (tests). */
  env?: Record<string, string>;
};

/** A fetched tip that must not run: nothing of it is used, and the reason is recorded with its sha. */
export class RevisionRefused extends FleetError {
  constructor(
    readonly sha: string,
    readonly why: string,
    subject: string,
  ) {
    // A person must act (sign, fix the path, or change the keys): nothing is gained by fetching it again.
    super('source', `refused commit ${sha} (${JSON.stringify(subject)}): ${why}`, { retryable: false });
    this.name = 'RevisionRefused';
  }
}

/** What `GET /api/v1/source` shows. */
export const sourceViewSchema = z.object({
  url: z.string().describe('the repository, credentials stripped'),
  branch: z.string().optional(),
  revision: z.string().optional().describe('the pinned tag or sha, when one is pinned'),
  sha: z.string().nullable(),
  subject: z.string().nullable(),
  author: z.string().nullable(),
  committedAt: z.string().nullable(),
  lastFetchAt: z.string().nullable(),
  lastError: z.string().nullable(),
  /** The last time the local mirror was found damaged and cloned again. */
  lastRecovery: z.object({ at: z.string(), reason: z.string() }).nullable(),
  history: z.array(revisionRecordSchema),
});
export type SourceView = z.infer<typeof sourceViewSchema>;

/**
 * The fleet repository as the daemon sees it: a bare mirror that fetches only the tip of the watched ref
 * (depth 1, forced, so a rewritten branch is followed rather than merged), a signature and path check of each
 * new tip, a history of the tips seen, and one read-only checkout directory per accepted commit, created under
 * a temporary name and renamed into place so no run sees half a tree.
 */
export class GitSource {
  private readonly mirror: Mirror;
  private readonly checkouts: string;
  private readonly history: SourceHistory;
  private readonly policy: SignaturePolicy | undefined;
  private readonly key: SourceKey;
  private current: Revision | undefined;
  private recovery: SourceView['lastRecovery'] = null;
  /** How many times `fetch` was called (`remoteTip` does not count): an observable for tests and benches. */
  fetches = 0;

  constructor(
    private readonly repo: Config['repository'],
    stateDir: string,
    private readonly options: GitSourceOptions,
  ) {
    const root = join(stateDir, 'source');
    this.mirror = new Mirror(join(root, 'mirror.git'), repo.url, { ...gitEnv(repo), ...options.env });
    this.checkouts = join(root, 'revisions');
    this.history = options.history;
    this.policy = repo.verify ? new SignaturePolicy(repo.verify, join(root, 'keys')) : undefined;
    this.key = { url: redactUrl(repo.url), ref: this.ref };
  }

  /** The ref this source follows, as people say it. */
  get ref(): string {
    return this.repo.revision ?? this.repo.branch ?? 'main';
  }

  /**
   * The revision to use now: the tip, fetched, checked and checked out, or (for a pinned revision) the one
   * resolved before, without asking the remote. Throws RevisionRefused for a tip that must not run and a
   * FleetError('source') when nothing could be fetched; a damaged mirror is cloned again on the spot.
   */
  async fetch(): Promise<Revision> {
    this.fetches += 1;
    try {
      return await this.update();
    } catch (error) {
      if (!(error instanceof MirrorDamaged)) throw this.wrap(error);
      this.recovery = { at: new Date().toISOString(), reason: error.message };
      this.options.log?.warn({ reason: error.message }, 'the local git mirror is damaged; cloning it again');
      this.mirror.reset();
      try {
        return await this.update();
      } catch (again) {
        throw this.wrap(again);
      }
    }
  }

  /**
   * The remote's current tip of the watched ref without fetching it (null: the ref does not exist there). The
   * watcher uses it to notice that a held problem (a refused tip, a missing branch) may have gone.
   */
  async remoteTip(): Promise<string | null> {
    const pin = this.repo.revision;
    if (pin && /^[0-9a-f]{40}$/.test(pin)) return pin;
    return this.mirror.remoteSha(this.remoteRef());
  }

  /** Full shas of tips this source accepted that start with `prefix` (a rollback may only go there). */
  acceptedMatching(prefix: string): string[] {
    return this.history.acceptedMatching(this.key, prefix);
  }

  /**
   * The revision at any ref of the watched repository (a branch, a tag, a full sha, or a ref such as
   * `refs/pull/7/head`), for a preview: fetched on demand with the same credentials, checked with the same
   * signature policy and path rules, and checked out like any revision. It is not added to the source's
   * history: it is never the revision targets follow, and a rollback can never go there.
   */
  async fetchRef(ref: string): Promise<Revision> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(ref) || ref.includes('..') || ref.endsWith('/')) {
      throw new FleetError('bad-request', `ref: must be a branch, a tag, a commit sha or a refs/… name, got ${JSON.stringify(ref)}`);
    }
    const remoteRef = /^[0-9a-f]{40}$/.test(ref) || ref.startsWith('refs/') ? ref : await this.resolveShortRef(ref);
    let sha: string;
    try {
      sha = await this.mirror.fetchTip(remoteRef, `refs/fleetcd/preview/${createHash('sha1').update(remoteRef).digest('hex')}`);
    } catch (error) {
      throw this.wrap(error);
    }
    const commit = await this.mirror.commit(sha);
    const refusal = await this.policy?.refusalOf(this.mirror, commit);
    if (refusal) throw new RevisionRefused(sha, refusal, commit.subject);
    const dir = await this.checkout(sha);
    const problem = this.pathProblem(dir);
    if (problem) throw new RevisionRefused(sha, problem, commit.subject);
    const now = new Date().toISOString();
    return { sha, ref, fetchedAt: now, subject: commit.subject, author: commit.author, committedAt: commit.committedAt, dir, root: join(dir, this.repo.path) };
  }

  /** A short name as a branch, else a tag, of the remote; not-found when it is neither. */
  private async resolveShortRef(ref: string): Promise<string> {
    for (const candidate of [`refs/heads/${ref}`, `refs/tags/${ref}`]) {
      const sha = await this.mirror.remoteSha(candidate).catch((error: unknown) => {
        throw this.sourceError(`cannot look up ${ref}`, error);
      });
      if (sha) return candidate;
    }
    throw new FleetError('not-found', `${ref} is neither a branch nor a tag of ${this.key.url}`);
  }

  /**
   * The checkout of a revision this source accepted before (a rollback's, a held target's): on disk, or
   * fetched again by its sha (fetches are shallow, so an old commit may have left the mirror) and checked out.
   * Its signature and paths are checked again: keys may have been revoked since.
   */
  async revisionAt(sha: string): Promise<Revision> {
    const entry = this.history.accepted(this.key, sha);
    if (!entry) throw new FleetError('not-found', `revision ${sha} was never accepted by this source`);
    const dir = join(this.checkouts, sha);
    if (existsSync(dir)) {
      touch(dir);
    } else {
      try {
        await this.mirror.fetchCommit(sha);
      } catch (error) {
        throw this.wrap(error);
      }
      const commit = await this.mirror.commit(sha);
      const refusal = await this.policy?.refusalOf(this.mirror, commit);
      if (refusal) throw new RevisionRefused(sha, refusal, commit.subject);
      await this.checkout(sha);
    }
    const problem = this.pathProblem(dir);
    if (problem) throw new RevisionRefused(sha, problem, entry.subject);
    return this.revisionOf(entry, dir);
  }

  /**
   * The newest accepted revision whose checkout is still on disk (after a restart too), or undefined; with
   * `repository.verify` set, only if its signature is still accepted.
   */
  async lastGood(): Promise<Revision | undefined> {
    if (this.current && existsSync(this.current.dir)) return this.current;
    const entry = this.history.lastAccepted(this.key);
    if (!entry) return undefined;
    const dir = join(this.checkouts, entry.sha);
    if (!existsSync(dir) || this.pathProblem(dir)) return undefined;
    if (this.policy) {
      const commit = await this.mirror.commit(entry.sha).catch(() => undefined);
      if (!commit || (await this.policy.refusalOf(this.mirror, commit).catch(() => 'unverifiable'))) return undefined;
    }
    touch(dir);
    return (this.current = this.revisionOf(entry, dir));
  }

  /**
   * The commits revision `from` has that `to` has not, both ways (see compareRevisions), deepening the mirror
   * as far as that needs within `bounds`. Call between fetches: the mirror has one owner.
   */
  async compare(from: string, to: string, bounds: LineageBounds): Promise<Lineage> {
    for (const sha of [from, to]) if (!/^[0-9a-f]{40}$/.test(sha)) throw new FleetError('bad-request', `not a full commit sha: ${JSON.stringify(sha)}`);
    try {
      return await compareRevisions(this.mirror, from, to, bounds);
    } catch (error) {
      if (error instanceof FleetError) throw error;
      throw this.sourceError(`cannot compare ${from.slice(0, 12)} with ${to.slice(0, 12)}`, error, true);
    }
  }

  /** Garbage-collects the mirror when it has grown (call between fetches). */
  gc(): Promise<void> {
    return this.mirror.gc();
  }

  /** Removes checkouts beyond the newest `keep` (by last use), except the current one and those in use. */
  prune(keep: number, inUse: ReadonlySet<string>): string[] {
    if (!existsSync(this.checkouts)) return [];
    const names = readdirSync(this.checkouts);
    for (const name of names) {
      const staging = /\.staging-(\d+)(\.index)?$/.exec(name);
      if (staging && Number(staging[1]) !== process.pid) rmSync(join(this.checkouts, name), { recursive: true, force: true });
    }
    const entries = names
      .filter((name) => /^[0-9a-f]{40}$/.test(name))
      .map((name) => ({ name, mtime: statSync(join(this.checkouts, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
    const removed: string[] = [];
    for (const entry of entries.slice(keep)) {
      if (inUse.has(entry.name) || entry.name === this.current?.sha) continue;
      rmSync(join(this.checkouts, entry.name), { recursive: true, force: true });
      removed.push(entry.name);
    }
    return removed;
  }

  /** Shas of the checkouts on disk. */
  checkoutShas(): string[] {
    return existsSync(this.checkouts) ? readdirSync(this.checkouts).filter((name) => /^[0-9a-f]{40}$/.test(name)) : [];
  }

  /**
   * Removes the mirror's refs of rollbacks (`refs/fleetcd/held/*`) whose commit is not in `held`, and of
   * previews (`refs/fleetcd/preview/*`) whose commit is not in `previews` (none when `previews` is undefined).
   * A commit whose ref went is fetched again by its sha if it is needed again. Call between fetches.
   */
  async pruneRefs(keep: { held: ReadonlySet<string>; previews: ReadonlySet<string> | undefined }): Promise<number> {
    try {
      let removed = await this.mirror.pruneRefs('refs/fleetcd/held/', (sha) => keep.held.has(sha));
      const previews = keep.previews;
      if (previews) removed += await this.mirror.pruneRefs('refs/fleetcd/preview/', (sha) => previews.has(sha));
      return removed;
    } catch (error) {
      throw this.wrap(error);
    }
  }

  /** The source as the API shows it, given the watcher's state. */
  view(state: { revision: Revision | undefined; error: string | null; lastFetchAt: string | null }, limit = 50): SourceView {
    const { revision } = state;
    return {
      url: this.key.url,
      ...(this.repo.revision ? { revision: this.repo.revision } : { branch: this.repo.branch ?? 'main' }),
      sha: revision?.sha ?? null,
      subject: revision?.subject ?? null,
      author: revision?.author ?? null,
      committedAt: revision?.committedAt ?? null,
      lastFetchAt: state.lastFetchAt,
      lastError: state.error,
      lastRecovery: this.recovery,
      history: this.history.list(this.key, limit),
    };
  }

  private async update(): Promise<Revision> {
    if (this.repo.revision) {
      const pinned = await this.lastGood();
      if (pinned) return pinned;
    }
    const sha = await this.fetchTip();
    if (this.current?.sha === sha && this.history.latest(this.key)?.sha === sha && existsSync(this.current.dir)) {
      touch(this.current.dir);
      return this.current;
    }
    const commit = await this.mirror.commit(sha);
    const forced = await this.forcedFrom(commit);
    const refusal = await this.policy?.refusalOf(this.mirror, commit);
    if (refusal) this.refuse(commit, refusal, forced);
    const dir = await this.checkout(sha);
    const pathProblem = this.pathProblem(dir);
    if (pathProblem) this.refuse(commit, pathProblem, forced);
    const entry = this.record(commit, { status: 'accepted', forced });
    return (this.current = this.revisionOf(entry, dir));
  }

  private async fetchTip(): Promise<string> {
    try {
      return await this.mirror.fetchTip(this.remoteRef());
    } catch (error) {
      if (error instanceof MirrorDamaged) throw error;
      throw await this.explainFetchError(error);
    }
  }

  private async explainFetchError(error: unknown): Promise<FleetError> {
    if (!/couldn't find remote ref|not our ref|unadvertised object/i.test(messageOf(error))) {
      return this.sourceError(`cannot fetch ${this.ref}`, error);
    }
    const url = this.key.url;
    const pin = this.repo.revision;
    if (pin) {
      const what = /^[0-9a-f]{40}$/.test(pin) ? `commit ${pin}` : `tag ${pin}`;
      return new FleetError('source', `${what} (repository.revision) does not exist in ${url}`, { cause: error, retryable: false });
    }
    const branches = await this.mirror.remoteBranches().catch(() => undefined);
    if (branches?.length === 0) {
      return new FleetError('source', `${url} is an empty repository: it has no branches yet`, { cause: error, retryable: false });
    }
    const known = branches ? ` (its branches: ${branches.slice(0, 10).join(', ')})` : '';
    return new FleetError('source', `branch ${this.ref} does not exist in ${url}${known}`, { cause: error, retryable: false });
  }

  /** True when the new tip is known not to descend from the previous tip seen: a force-push. */
  private async forcedFrom(commit: CommitInfo): Promise<true | undefined> {
    const previous = this.history.latest(this.key)?.sha;
    if (!previous || previous === commit.sha || this.repo.revision) return undefined;
    return (await this.mirror.descends(previous, commit, this.remoteRef())) === false ? true : undefined;
  }

  private refuse(commit: CommitInfo, reason: string, forced: true | undefined): never {
    this.record(commit, { status: 'refused', reason, forced });
    throw new RevisionRefused(commit.sha, reason, commit.subject);
  }

  /** Adds the tip to the history when it is new; updates its status when that changed; else writes nothing. */
  private record(commit: CommitInfo, outcome: Pick<RevisionInput, 'status' | 'reason' | 'forced'>): RevisionRecord {
    const latest = this.history.latest(this.key);
    if (latest?.sha === commit.sha && latest.status === outcome.status && latest.reason === outcome.reason) return latest;
    const entry: RevisionInput = {
      sha: commit.sha,
      subject: commit.subject,
      author: commit.author,
      committedAt: commit.committedAt,
      status: outcome.status,
    };
    if (outcome.reason !== undefined) entry.reason = outcome.reason;
    if (outcome.forced) entry.forced = true;
    return this.history.record(this.key, entry);
  }

  private async checkout(sha: string): Promise<string> {
    const dir = join(this.checkouts, sha);
    if (existsSync(dir)) {
      touch(dir);
      return dir;
    }
    mkdirSync(this.checkouts, { recursive: true });
    await this.mirror.materialize(sha, dir);
    return dir;
  }

  /** Paths the daemon itself reads from a checkout must stay inside it: repository.path and its requirements.yml. */
  private pathProblem(dir: string): string | undefined {
    const path = this.repo.path;
    const problem = checkoutPathProblem(dir, path);
    if (problem) return `repository.path ${path}: ${problem}`;
    const requirements = checkoutPathProblem(dir, posix.join(path, 'requirements.yml'));
    return requirements ? `requirements.yml: ${requirements}` : undefined;
  }

  private revisionOf(entry: RevisionRecord, dir: string): Revision {
    return {
      sha: entry.sha,
      ref: this.ref,
      fetchedAt: entry.firstSeenAt,
      subject: entry.subject,
      author: entry.author,
      committedAt: entry.committedAt,
      dir,
      root: join(dir, this.repo.path),
    };
  }

  private remoteRef(): string {
    const pin = this.repo.revision;
    if (!pin) return `refs/heads/${this.repo.branch ?? 'main'}`;
    if (/^[0-9a-f]{40}$/.test(pin)) return pin;
    return `refs/tags/${pin}`;
  }

  private wrap(error: unknown): FleetError {
    if (error instanceof FleetError) return error;
    if (error instanceof MirrorDamaged) return this.sourceError('the local mirror is damaged and could not be cloned again', error, true);
    return this.sourceError(`cannot fetch ${this.ref}`, error);
  }

  /** Refused credentials or host keys, or a repository that is not there, need a person; anything else may pass. */
  private sourceError(what: string, error: unknown, retryable?: boolean): FleetError {
    const detail = redactUrls(messageOf(error).replace(/\s+/g, ' ').trim());
    retryable ??= !needsAPerson.some((pattern) => pattern.test(detail));
    return new FleetError('source', `${what} from ${this.key.url}: ${detail}`, { cause: error, retryable });
  }
}

/**
 * Fetch failures that waiting cannot cure: refused credentials and host keys. A repository that is not there
 * (yet) stays retryable: a path not mounted yet or a forge in maintenance comes back by itself.
 */
const needsAPerson = [/authentication failed/i, /permission denied/i, /host key verification failed/i, /the requested url returned error: 40[13]/i];

/** Marks a checkout as just used, so pruning (newest first by mtime) keeps it. */
function touch(dir: string): void {
  const now = new Date();
  utimesSync(dir, now, now);
}

/** A URL fit to show: an http(s) URL loses its whole user:password@ part, any other URL its password. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*):\/\/([^@/]*)@/i, (_all, scheme: string, userinfo: string) => {
    if (/^(https?|ftps?)$/i.test(scheme)) return `${scheme}://`;
    const user = userinfo.split(':')[0];
    return user ? `${scheme}://${user}@` : `${scheme}://`;
  });
}

/** Every URL inside a message (git errors quote them) redacted as `redactUrl` does. */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, (url) => redactUrl(url));
}
