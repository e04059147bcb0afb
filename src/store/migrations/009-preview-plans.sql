-- A finished preview's plan per target, frozen when the preview ended: what the revision would change and
-- what had drifted already, split against the target's newest check at that moment. A record, not a view:
-- a later check (the drift healed, or grown) never rewrites it.
CREATE TABLE preview_plans (
  run_id         INTEGER PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
  preview_id     INTEGER NOT NULL REFERENCES previews (id) ON DELETE CASCADE,
  changes        TEXT    NOT NULL,
  existing_drift TEXT    NOT NULL
);
CREATE INDEX preview_plans_by_preview ON preview_plans (preview_id);
