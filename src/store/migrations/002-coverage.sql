-- Why a task's result says nothing about drift (skipped in check mode, no check-mode support,
-- check_mode: false); NULL for tasks whose check result is a real prediction.
ALTER TABLE run_tasks ADD COLUMN unverified TEXT;
