-- Lines on a run's event pipe that fit no event's schema: counted and skipped, the run going on (issue 15).
ALTER TABLE runs ADD COLUMN malformed_events INTEGER NOT NULL DEFAULT 0;
