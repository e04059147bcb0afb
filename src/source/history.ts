/** Whether a fetched tip may run: `refused` tips (bad signature, a path escaping the checkout) never do. */
export const revisionStatuses = ['accepted', 'refused'] as const;
export type RevisionStatus = (typeof revisionStatuses)[number];

/** One tip of the watched ref as the daemon saw it; a force-push back to an old commit is a new entry. */
export type RevisionRecord = {
  sha: string;
  subject: string;
  author: string;
  committedAt: string;
  firstSeenAt: string;
  status: RevisionStatus;
  reason?: string;
  /** Set only when the new tip is known not to descend from the previous one (a force-push). */
  forced?: true;
};

/** What a history is kept per: the repository (credentials stripped) and the branch or pinned revision. */
export type SourceKey = { url: string; ref: string };

export type RevisionInput = Omit<RevisionRecord, 'firstSeenAt'>;

/**
 * Where the source keeps the tips it has seen. The store's SourceHistory implements this; the source only
 * knows the shape, so `source/` does not import `store/`.
 */
export interface RevisionRecorder {
  /** Appends when `sha` is not the newest entry's; otherwise updates that entry's status and reason. */
  record(key: SourceKey, entry: RevisionInput): RevisionRecord;
  latest(key: SourceKey): RevisionRecord | undefined;
  lastAccepted(key: SourceKey): RevisionRecord | undefined;
  /** Newest first. */
  list(key: SourceKey, limit: number): RevisionRecord[];
}

/** A history that lasts as long as the process: one-shot verbs and tests without a database. */
export class MemoryHistory implements RevisionRecorder {
  private readonly entries = new Map<string, RevisionRecord[]>();

  record(key: SourceKey, entry: RevisionInput): RevisionRecord {
    const list = this.listOf(key);
    const newest = list[0];
    if (newest?.sha === entry.sha) {
      const updated: RevisionRecord = { ...newest, status: entry.status };
      if (entry.reason === undefined) delete updated.reason;
      else updated.reason = entry.reason;
      list[0] = updated;
      return updated;
    }
    const added: RevisionRecord = { ...entry, firstSeenAt: new Date().toISOString() };
    list.unshift(added);
    return added;
  }

  latest(key: SourceKey): RevisionRecord | undefined {
    return this.listOf(key)[0];
  }

  lastAccepted(key: SourceKey): RevisionRecord | undefined {
    return this.listOf(key).find((entry) => entry.status === 'accepted');
  }

  list(key: SourceKey, limit: number): RevisionRecord[] {
    return this.listOf(key).slice(0, limit);
  }

  private listOf(key: SourceKey): RevisionRecord[] {
    const id = `${key.url}\n${key.ref}`;
    let list = this.entries.get(id);
    if (!list) this.entries.set(id, (list = []));
    return list;
  }
}
