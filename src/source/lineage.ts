import type { SimpleGit } from 'simple-git';
import { z } from 'zod';
import { FleetError, messageOf } from '../errors.js';
import { fetchFlags, type Mirror } from './mirror.js';

const filesPerCommit = 100;

/** One commit of a comparison: what it is and which files it changed (merges list none). */
export const lineageCommitSchema = z.object({
  sha: z.string(),
  subject: z.string(),
  author: z.string().describe('Name <email>'),
  committedAt: z.string(),
  files: z.array(z.string()).describe(`the files it changed, at most ${filesPerCommit}, as git names them`),
  moreFiles: z.number().int().describe('how many more files it changed than `files` lists'),
});
export type LineageCommit = z.infer<typeof lineageCommitSchema>;

/** The commits one revision has that another has not, both ways, and whether neither contains the other. */
export type Lineage = { ahead: LineageCommit[]; behind: LineageCommit[]; diverged: boolean };

export type LineageBounds = {
  /** The most commits either side may be from the other (and the deepest the mirror is fetched for it). */
  commits: number;
  /** The whole comparison, fetches included. */
  timeMs: number;
  /** Bytes of output of any one git command. */
  outputBytes: number;
};

/** Fetch depths tried in turn: most comparisons are a few commits apart, so the first one settles them. */
const firstDepth = 16;
const depthGrowth = 8;
const compareRef = (side: string) => `refs/fleetcd/compare/${side}`;

/**
 * What `from` has that `to` has not (`ahead`) and the reverse (`behind`), read from the mirror. The mirror
 * holds shallow tips, so both revisions are fetched (by sha, with the source's credentials) deeper and deeper
 * until the answer no longer depends on what is missing, up to `bounds.commits`; beyond that, a conflict
 * saying so. The caller makes sure no fetch runs meanwhile (the mirror has one owner: the source watcher).
 */
export async function compareRevisions(mirror: Mirror, from: string, to: string, bounds: LineageBounds): Promise<Lineage> {
  if (from === to) return { ahead: [], behind: [], diverged: false };
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`took longer than ${bounds.timeMs / 1000} s`)), bounds.timeMs);
  const git = capped(mirror.bounded(controller.signal), controller, bounds.outputBytes);
  try {
    await mirror.open();
    for (const depth of depths(bounds.commits)) {
      await deepen(git, { from, to }, depth);
      const ahead = await listed(git, `${to}..${from}`, bounds.commits);
      const behind = await listed(git, `${from}..${to}`, bounds.commits);
      const edge = mirror.shallowCommits();
      const known = (await settled(git, edge, ahead, to, bounds.commits)) && (await settled(git, edge, behind, from, bounds.commits));
      if (!known && depth <= bounds.commits) continue;
      if (!known || ahead.length > bounds.commits || behind.length > bounds.commits) throw tooFar(bounds.commits);
      return { ahead: await describe(git, ahead), behind: await describe(git, behind), diverged: ahead.length > 0 && behind.length > 0 };
    }
    throw tooFar(bounds.commits);
  } catch (error) {
    if (error instanceof FleetError) throw error;
    // The caller words it (and strips credentials from any URL in git's message).
    throw controller.signal.aborted ? new Error(messageOf(controller.signal.reason), { cause: error }) : error;
  } finally {
    clearTimeout(timer);
    await git.raw(['update-ref', '-d', compareRef('from')]).catch(() => undefined);
    await git.raw(['update-ref', '-d', compareRef('to')]).catch(() => undefined);
  }
}

function depths(bound: number): number[] {
  const out: number[] = [];
  for (let depth = firstDepth; depth <= bound; depth *= depthGrowth) out.push(depth);
  return [...out, bound + 1];
}

function tooFar(bound: number): FleetError {
  return new FleetError(
    'conflict',
    `the two revisions are more than ${bound} commits apart (or their common history is deeper than that); fleetcd compares at most ${bound} commits`,
  );
}

/** A git whose every command is stopped once it printed more than `bytes`. */
function capped(git: SimpleGit, controller: AbortController, bytes: number): SimpleGit {
  return git.outputHandler((_command, stdout) => {
    let seen = 0;
    stdout.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > bytes && !controller.signal.aborted) controller.abort(new Error(`git printed more than ${bytes} bytes`));
    });
  });
}

/**
 * Both revisions at `depth` from their tips. Fetching a sha the remote no longer advertises (a force-push
 * removed it) may be refused; the mirror may still hold that commit from before, so each side is then fetched
 * alone and a side the remote refuses is used as the mirror has it.
 */
async function deepen(git: SimpleGit, sides: { from: string; to: string }, depth: number): Promise<void> {
  const spec = (side: 'from' | 'to') => `+${sides[side]}:${compareRef(side)}`;
  const fetch = (...specs: string[]) => git.raw(['fetch', '-v', ...fetchFlags, `--depth=${depth}`, 'origin', ...specs]);
  try {
    await fetch(spec('from'), spec('to'));
    return;
  } catch (error) {
    if (!/not our ref|unadvertised object|couldn't find remote ref|no such remote ref|upload-pack: not/i.test(messageOf(error))) throw error;
  }
  for (const side of ['from', 'to'] as const) {
    const ok = await fetch(spec(side)).then(
      () => true,
      () => false,
    );
    if (ok || (await present(git, sides[side]))) continue;
    throw new FleetError('conflict', `revision ${sides[side]} is neither in the repository any more (a force-push?) nor in fleetcd's mirror`);
  }
}

async function present(git: SimpleGit, sha: string): Promise<boolean> {
  return git.raw(['cat-file', '-e', `${sha}^{commit}`]).then(
    () => true,
    () => false,
  );
}

type Listed = { sha: string; parents: string[] };

/** The commits of `range`, newest first, with their parents as the mirror knows them; at most `bound` + 1. */
async function listed(git: SimpleGit, range: string, bound: number): Promise<Listed[]> {
  const out = await git.raw(['rev-list', '--parents', `--max-count=${bound + 1}`, range]);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [sha = '', ...parents] = line.split(' ');
      return { sha, parents };
    });
}

/**
 * Whether `list` (commits the other side, `other`, lacks) is the answer rather than an effect of the shallow
 * mirror: a listed commit at the edge of what was fetched may have more history below it (where `other` may
 * be), and a listed root is only truly not in `other`'s history when that history is complete in the mirror.
 */
async function settled(git: SimpleGit, edge: ReadonlySet<string>, list: Listed[], other: string, bound: number): Promise<boolean> {
  if (list.some((c) => edge.has(c.sha))) return false;
  if (!list.some((c) => c.parents.length === 0)) return true;
  const walk = (await listed(git, other, 2 * bound)).map((c) => c.sha);
  return walk.length <= 2 * bound && !walk.some((sha) => edge.has(sha));
}

/** Subject, author, time and files of each commit, in one `git log` per list. */
async function describe(git: SimpleGit, commits: Listed[]): Promise<LineageCommit[]> {
  if (commits.length === 0) return [];
  const format = '%x1e%H%x1f%an <%ae>%x1f%ct%x1f%s';
  const out = await git.raw(['log', '--no-walk=unsorted', '--no-renames', '--name-only', `--format=${format}`, ...commits.map((c) => c.sha)]);
  return out
    .split('\x1e')
    .filter((record) => record.trim())
    .map((record) => {
      const [head = '', ...names] = record.split('\n');
      const [sha = '', author = '', time = '0', subject = ''] = head.split('\x1f');
      const files = names.filter(Boolean);
      return {
        sha,
        subject,
        author,
        committedAt: new Date(Number(time) * 1000).toISOString(),
        files: files.slice(0, filesPerCommit),
        moreFiles: Math.max(0, files.length - filesPerCommit),
      };
    });
}
