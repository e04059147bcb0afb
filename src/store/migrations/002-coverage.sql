-- Why a task's result says nothing about drift (skipped in check mode, no check-mode support,
-- check_mode: false); NULL for tasks whose check result is a real prediction.
ALTER TABLE run_tasks ADD COLUMN unverified TEXT;
-- A failure that an enclosing block's rescue section handled: not a failure of the run.
ALTER TABLE run_tasks ADD COLUMN rescued INTEGER NOT NULL DEFAULT 0;
