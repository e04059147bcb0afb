-- Every state-changing request (reconcile, cancel, suspend, resume, rollback, previews, webhooks): who asked,
-- when, what, and the answer. Kept as long as runs are (retention.maxAge).
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          TEXT    NOT NULL,
  actor       TEXT,
  method      TEXT    NOT NULL,
  path        TEXT    NOT NULL,
  request     TEXT,
  status      INTEGER NOT NULL,
  answer      TEXT
);
CREATE INDEX audit_by_at ON audit (at);
