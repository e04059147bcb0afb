-- Every tip of the watched ref the daemon has fetched, per repository (credentials stripped) and ref.
-- A force-push, even back to a commit seen before, is a new row; a re-check of the same tip updates its row.
CREATE TABLE source_revisions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  url           TEXT    NOT NULL,
  ref           TEXT    NOT NULL,
  sha           TEXT    NOT NULL,
  subject       TEXT    NOT NULL,
  author        TEXT    NOT NULL,
  committed_at  TEXT    NOT NULL,
  first_seen_at TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('accepted', 'refused')),
  reason        TEXT,
  forced        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX source_revisions_by_ref ON source_revisions (url, ref, id DESC);
