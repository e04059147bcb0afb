-- Runs, their per-host recap and their per-task results. Counts are denormalised onto runs so the status
-- page and the run list never aggregate task rows.
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  target        TEXT    NOT NULL,
  kind          TEXT    NOT NULL CHECK (kind IN ('check', 'apply')),
  trigger       TEXT    NOT NULL CHECK (trigger IN ('startup', 'schedule', 'commit', 'api', 'cli')),
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
  skipped       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_by_target ON runs (target, id DESC);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE run_hosts (
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host        TEXT    NOT NULL,
  ok          INTEGER NOT NULL DEFAULT 0,
  changed     INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  unreachable INTEGER NOT NULL DEFAULT 0,
  skipped     INTEGER NOT NULL DEFAULT 0,
  rescued     INTEGER NOT NULL DEFAULT 0,
  ignored     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, host)
);
CREATE INDEX run_hosts_by_host ON run_hosts (host, run_id DESC);

-- One row per host per task result. `diff` is Ansible's diff list as JSON; never set for no_log tasks.
CREATE TABLE run_tasks (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  host        TEXT    NOT NULL,
  task        TEXT    NOT NULL,
  module      TEXT,
  path        TEXT,
  status      TEXT    NOT NULL,
  duration_ms INTEGER,
  message     TEXT,
  diff        TEXT,
  truncated   INTEGER NOT NULL DEFAULT 0,
  censored    INTEGER NOT NULL DEFAULT 0,
  ignored     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX run_tasks_by_run ON run_tasks (run_id, id);
