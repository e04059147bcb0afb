import { z } from 'zod';
import { FleetError } from '../errors.js';
import { lineageCommitSchema, type Lineage, type LineageBounds } from '../source/index.js';
import { commitSchema } from '../store/types.js';
import type { TargetView } from './views.js';

/** `GET /api/v1/compare`: what one target runs that another does not, and the reverse. */
export const comparisonSchema = z.object({
  from: z.object({ target: z.string(), revision: commitSchema }),
  to: z.object({ target: z.string(), revision: commitSchema }),
  ahead: z.array(lineageCommitSchema).describe('commits `from` runs that `to` does not, newest first'),
  behind: z.array(lineageCommitSchema).describe('commits `to` runs that `from` does not, newest first'),
  diverged: z.boolean().describe("neither revision is in the other's history (a force-push): both lists hold commits"),
  summary: z.string().describe('the answer in one sentence'),
});
export type Comparison = z.infer<typeof comparisonSchema>;

/** Issue 17's bound: deepen the mirror at most this far, and list at most this many commits either way. */
export const compareBounds: LineageBounds = { commits: 1000, timeMs: 60_000, outputBytes: 8 * 1024 * 1024 };

/** Answers kept: the lists between two shas never change, and the page asks about the same pairs every poll. */
const cacheSize = 64;

export type CompareSide = Pick<TargetView, 'name' | 'revision' | 'checkedRevision'>;

/**
 * Comparisons of targets' revisions. The lists come from the source (`lineage`, which must run between fetches:
 * the caller's `between`); answers are kept per pair of shas, since history below a sha cannot change.
 */
export class Comparisons {
  private readonly cache = new Map<string, Lineage>();

  constructor(private readonly lineage: (from: string, to: string) => Promise<Lineage>) {}

  async compare(from: CompareSide, to: CompareSide): Promise<Comparison> {
    const a = from.revision ?? refuse(from);
    const b = to.revision ?? refuse(to);
    const lists = await this.lists(a.sha, b.sha);
    return {
      from: { target: from.name, revision: a },
      to: { target: to.name, revision: b },
      ...lists,
      summary: summaryOf(from.name, to.name, lists),
    };
  }

  private async lists(a: string, b: string): Promise<Lineage> {
    if (a === b) return { ahead: [], behind: [], diverged: false };
    const key = `${a}..${b}`;
    const known = this.cache.get(key);
    if (known) return known;
    const lists = await this.lineage(a, b);
    this.cache.set(key, lists);
    if (this.cache.size > cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return lists;
  }
}

/**
 * A side that runs nothing yet cannot be compared: an answer with empty lists would read as "nothing to
 * promote", which is false, so it is a 409 naming the target and what it checked.
 */
function refuse(side: CompareSide): never {
  const checked = side.checkedRevision ? ` (its newest check is at ${side.checkedRevision.sha.slice(0, 12)})` : '';
  throw new FleetError('conflict', `${side.name} runs no revision yet: it has never applied one${checked}; there is nothing to compare`);
}

function summaryOf(from: string, to: string, { ahead, behind, diverged }: Lineage): string {
  const n = (count: number) => `${count} commit${count === 1 ? '' : 's'}`;
  if (diverged) {
    return `${from} and ${to} have diverged (a force-push?): neither runs a revision in the other's history; ${from} has ${n(ahead.length)} ${to} lacks, ${to} has ${n(behind.length)} ${from} lacks`;
  }
  if (ahead.length > 0) return `${from} runs ${n(ahead.length)} that ${to} does not`;
  if (behind.length > 0) return `${to} runs ${n(behind.length)} that ${from} does not`;
  return `${from} and ${to} run the same revision`;
}
