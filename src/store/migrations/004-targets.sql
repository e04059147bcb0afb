-- Runs gain: the new trigger values, the identity of their ansible-playbook process group (so a restart after
-- a crash can stop a group that is still the same process), who asked for them, the preview they belong to,
-- Ansible's warnings and the check's coverage (computed once when the run ends). SQLite cannot change a CHECK
-- constraint in place, so the table is rebuilt (foreign keys are off while migrations run).
CREATE TABLE runs_new (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  target        TEXT    NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('check', 'apply')),
  trigger       TEXT    NOT NULL CHECK (trigger IN ('startup', 'schedule', 'commit', 'api', 'cli', 'retry', 'window',
                                                    'resume', 'rollback', 'webhook', 'preview')),
  revision      TEXT    NOT NULL,
  status        TEXT    NOT NULL,
  host_limit    TEXT,
  queued_at     TEXT    NOT NULL,
  started_at    TEXT,
  finished_at   TEXT,
  exit_code     INTEGER,
  error         TEXT,
  followed_by   INTEGER REFERENCES runs(id),
  hosts         INTEGER NOT NULL DEFAULT 0,
  ok            INTEGER NOT NULL DEFAULT 0,
  changed       INTEGER NOT NULL DEFAULT 0,
  failed        INTEGER NOT NULL DEFAULT 0,
  unreachable   INTEGER NOT NULL DEFAULT 0,
  skipped       INTEGER NOT NULL DEFAULT 0,
  pgid          INTEGER,
  pg_start      INTEGER,
  requested_by  TEXT,
  preview_id    INTEGER,
  warnings      TEXT,
  coverage      TEXT
);
INSERT INTO runs_new (id, target, kind, trigger, revision, status, host_limit, queued_at, started_at, finished_at,
                      exit_code, error, followed_by, hosts, ok, changed, failed, unreachable, skipped)
  SELECT id, target, kind, trigger, revision, status, host_limit, queued_at, started_at, finished_at,
         exit_code, error, followed_by, hosts, ok, changed, failed, unreachable, skipped FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_by_target ON runs (target, id DESC);
CREATE INDEX runs_by_status ON runs (status);
CREATE INDEX runs_applies ON runs (target, revision, id DESC) WHERE kind = 'apply';
CREATE INDEX runs_by_preview ON runs (preview_id) WHERE preview_id IS NOT NULL;

-- One row per target that has a record: pointers to the runs its status is made of (kept when each run
-- starts or ends, so the status of every target is a few reads, whatever the number of runs), and what an
-- operator set on it (suspension, a rollback hold), and its apply retries.
CREATE TABLE targets (
  name              TEXT PRIMARY KEY,
  last_started      INTEGER,
  last_conclusive   INTEGER,
  last_check        INTEGER,
  last_apply        INTEGER,
  suspended_at      TEXT,
  suspended_by      TEXT,
  suspended_reason  TEXT,
  held_revision     TEXT,
  held_at           TEXT,
  held_by           TEXT,
  held_reason       TEXT,
  retry_revision    TEXT,
  retry_attempt     INTEGER,
  retry_next_at     TEXT
);
INSERT INTO targets (name, last_started, last_conclusive, last_check, last_apply)
  SELECT target,
         MAX(CASE WHEN status <> 'queued' THEN id END),
         MAX(CASE WHEN status IN ('succeeded', 'failed', 'timed-out') THEN id END),
         MAX(CASE WHEN kind = 'check' AND status IN ('succeeded', 'failed') THEN id END),
         MAX(CASE WHEN kind = 'apply' AND status IN ('succeeded', 'failed', 'timed-out') THEN id END)
  FROM runs GROUP BY target;

-- Per target and host, the recap of the newest conclusive run that included the host.
CREATE TABLE target_hosts (
  target      TEXT    NOT NULL,
  host        TEXT    NOT NULL,
  run_id      INTEGER NOT NULL,
  kind        TEXT    NOT NULL,
  ok          INTEGER NOT NULL DEFAULT 0,
  changed     INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  unreachable INTEGER NOT NULL DEFAULT 0,
  skipped     INTEGER NOT NULL DEFAULT 0,
  rescued     INTEGER NOT NULL DEFAULT 0,
  ignored     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (target, host)
);
CREATE INDEX target_hosts_by_host ON target_hosts (host);
INSERT INTO target_hosts (target, host, run_id, kind, ok, changed, failed, unreachable, skipped, rescued, ignored)
  SELECT r.target, h.host, r.id, r.kind, h.ok, h.changed, h.failed, h.unreachable, h.skipped, h.rescued, h.ignored
  FROM run_hosts h JOIN runs r ON r.id = h.run_id
  WHERE r.id = (
    SELECT MAX(r2.id) FROM run_hosts h2 JOIN runs r2 ON r2.id = h2.run_id
    WHERE h2.host = h.host AND r2.target = r.target AND r2.status IN ('succeeded', 'failed', 'timed-out')
  );

-- What a revision is, for every revision a run used (the source history only holds the watched ref's tips).
CREATE TABLE commits (
  sha           TEXT PRIMARY KEY,
  subject       TEXT NOT NULL,
  author        TEXT NOT NULL,
  committed_at  TEXT NOT NULL
);
INSERT OR IGNORE INTO commits (sha, subject, author, committed_at)
  SELECT sha, subject, author, committed_at FROM source_revisions;
