import type { RevisionInput, RevisionRecord, RevisionStatus, SourceHistory, SourceKey } from '../source/history.js';
import { prepared, type Db } from './db.js';

type Row = {
  id: number;
  sha: string;
  subject: string;
  author: string;
  committed_at: string;
  first_seen_at: string;
  status: RevisionStatus;
  reason: string | null;
  forced: number;
};

function toRevision(row: Row): RevisionRecord {
  const revision: RevisionRecord = {
    sha: row.sha,
    subject: row.subject,
    author: row.author,
    committedAt: row.committed_at,
    firstSeenAt: row.first_seen_at,
    status: row.status,
  };
  if (row.reason !== null) revision.reason = row.reason;
  if (row.forced) revision.forced = true;
  return revision;
}

/** The `source_revisions` table: the tips the daemon has seen, kept across restarts (the source's history). */
export class SqliteSourceHistory implements SourceHistory {
  constructor(private readonly db: Db) {}

  record(key: SourceKey, entry: RevisionInput): RevisionRecord {
    return this.db.transaction((): RevisionRecord => {
      const newest = this.newestRow(key);
      if (newest?.sha === entry.sha) {
        prepared(this.db, 'UPDATE source_revisions SET status = ?, reason = ? WHERE id = ?').run(entry.status, entry.reason ?? null, newest.id);
        return toRevision({ ...newest, status: entry.status, reason: entry.reason ?? null });
      }
      const row = prepared(this.db, `INSERT INTO source_revisions (url, ref, sha, subject, author, committed_at, first_seen_at, status, reason, forced)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
        )
        .get(
          key.url,
          key.ref,
          entry.sha,
          entry.subject,
          entry.author,
          entry.committedAt,
          new Date().toISOString(),
          entry.status,
          entry.reason ?? null,
          entry.forced ? 1 : 0,
        ) as Row;
      return toRevision(row);
    })();
  }

  latest(key: SourceKey): RevisionRecord | undefined {
    const row = this.newestRow(key);
    return row ? toRevision(row) : undefined;
  }

  lastAccepted(key: SourceKey): RevisionRecord | undefined {
    const row = prepared(this.db, `SELECT * FROM source_revisions WHERE url = ? AND ref = ? AND status = 'accepted' ORDER BY id DESC LIMIT 1`)
      .get(key.url, key.ref) as Row | undefined;
    return row ? toRevision(row) : undefined;
  }

  accepted(key: SourceKey, sha: string): RevisionRecord | undefined {
    const row = prepared(this.db, `SELECT * FROM source_revisions WHERE url = ? AND ref = ? AND sha = ? AND status = 'accepted' ORDER BY id DESC LIMIT 1`)
      .get(key.url, key.ref, sha) as Row | undefined;
    return row ? toRevision(row) : undefined;
  }

  acceptedMatching(key: SourceKey, prefix: string): string[] {
    const rows = prepared(this.db, `SELECT DISTINCT sha FROM source_revisions WHERE url = ? AND ref = ? AND status = 'accepted' AND substr(sha, 1, ?) = ? LIMIT 10`,
      )
      .all(key.url, key.ref, prefix.length, prefix) as Array<{ sha: string }>;
    return rows.map((row) => row.sha);
  }

  list(key: SourceKey, limit: number): RevisionRecord[] {
    const rows = prepared(this.db, 'SELECT * FROM source_revisions WHERE url = ? AND ref = ? ORDER BY id DESC LIMIT ?')
      .all(key.url, key.ref, limit) as Row[];
    return rows.map(toRevision);
  }

  private newestRow(key: SourceKey): Row | undefined {
    return prepared(this.db, 'SELECT * FROM source_revisions WHERE url = ? AND ref = ? ORDER BY id DESC LIMIT 1')
      .get(key.url, key.ref) as Row | undefined;
  }
}
