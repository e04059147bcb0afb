import { z } from 'zod';

/** Whether a fetched tip may run: `refused` tips (bad signature, a path escaping the checkout) never do. */
export type RevisionStatus = 'accepted' | 'refused';

/** One tip of the watched ref as the daemon saw it; a force-push back to an old commit is a new entry. */
export const revisionRecordSchema = z.object({
  sha: z.string(),
  subject: z.string(),
  author: z.string(),
  committedAt: z.string(),
  firstSeenAt: z.string(),
  status: z.enum(['accepted', 'refused']),
  reason: z.string().optional(),
  /** Set only when the new tip is known not to descend from the previous one (a force-push). */
  forced: z.literal(true).optional(),
});
export type RevisionRecord = z.infer<typeof revisionRecordSchema>;

export type RevisionInput = Omit<RevisionRecord, 'firstSeenAt'>;

/** What a source history is kept per: the repository (credentials stripped) and the branch or pinned revision. */
export type SourceKey = { url: string; ref: string };

/**
 * Where the source keeps the tips it has seen, across restarts. The source declares what it needs; the
 * store implements it (store/source-history.ts).
 */
export interface SourceHistory {
  /** Appends when `sha` is not the newest entry's for this key; otherwise updates its status and reason. */
  record(key: SourceKey, entry: RevisionInput): RevisionRecord;
  latest(key: SourceKey): RevisionRecord | undefined;
  lastAccepted(key: SourceKey): RevisionRecord | undefined;
  /** The newest entry of this sha if it was ever accepted for the key (a rollback may only go there). */
  accepted(key: SourceKey, sha: string): RevisionRecord | undefined;
  /** Full shas of accepted tips that start with `prefix`, each once. */
  acceptedMatching(key: SourceKey, prefix: string): string[];
  /** Newest first. */
  list(key: SourceKey, limit: number): RevisionRecord[];
}
