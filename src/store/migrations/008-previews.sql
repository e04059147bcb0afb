-- Previews: a check of any revision against the live fleet. Its runs carry its id (runs.preview_id) and never
-- count toward a target's status.
CREATE TABLE previews (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  ref           TEXT    NOT NULL,
  revision      TEXT,
  status        TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  targets       TEXT,
  requested_by  TEXT,
  created_at    TEXT    NOT NULL,
  finished_at   TEXT,
  error         TEXT,
  superseded_by TEXT,
  pull_request  TEXT
);

-- A policy gate's result for a revision: a gate runs once per revision and command.
CREATE TABLE gate_results (
  revision   TEXT    NOT NULL,
  gate       TEXT    NOT NULL,
  command    TEXT    NOT NULL,
  exit_code  INTEGER,
  ok         INTEGER NOT NULL,
  output     TEXT,
  ran_at     TEXT    NOT NULL,
  PRIMARY KEY (revision, gate, command)
);
