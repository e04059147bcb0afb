import { z } from 'zod';
import { prepared, type Db } from './db.js';

export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string(),
  actor: z.string().nullable().describe("the token's name (api for api.tokenFile), or who a webhook came from; null when refused"),
  method: z.string(),
  path: z.string(),
  request: z.unknown().nullable().describe('the request body as it was parsed'),
  status: z.number().int().describe('the HTTP status of the answer'),
  answer: z.string().nullable().describe('the error, or a short form of what was done'),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

type Row = Omit<AuditEntry, 'request'> & { request: string | null };

/** The `audit` table: one row per state-changing request, refused ones included. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  record(entry: Omit<AuditEntry, 'id' | 'at'>): void {
    prepared(this.db, `INSERT INTO audit (at, actor, method, path, request, status, answer) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(
        new Date().toISOString(),
        entry.actor,
        entry.method,
        entry.path,
        storedRequest(entry.request),
        entry.status,
        entry.answer?.slice(0, 2048) ?? null,
      );
  }

  /** Newest first; `before` an id to page. */
  list(limit: number, before?: number): AuditEntry[] {
    const rows = prepared(this.db, `SELECT * FROM audit WHERE (@before IS NULL OR id < @before) ORDER BY id DESC LIMIT @limit`)
      .all({ limit, before: before ?? null }) as Row[];
    return rows.map((row) => ({ ...row, request: row.request === null ? null : readRequest(row.request) }));
  }
}

const maxRequestChars = 4096;

/**
 * The body as JSON when it fits in 4 KiB; a longer one is kept as a JSON string of its first 4 KiB and a mark
 * (so each row still parses), e.g. `"{\"reason\":\"aaaa…(cut at 4096 of 9120 characters)"`.
 */
function storedRequest(request: unknown): string | null {
  if (request === undefined || request === null) return null;
  const text = JSON.stringify(request);
  if (text.length <= maxRequestChars) return text;
  return JSON.stringify(`${text.slice(0, maxRequestChars)}…(cut at ${maxRequestChars} of ${text.length} characters)`);
}

/** Rows written before bodies were cut as JSON strings may hold JSON cut mid-way: those come back as text. */
function readRequest(stored: string): unknown {
  try {
    return JSON.parse(stored) as unknown;
  } catch {
    return stored;
  }
}
