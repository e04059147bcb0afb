-- "Which hosts did we actually touch": a host's task results and recaps, newest first, without a scan.
CREATE INDEX run_tasks_by_host ON run_tasks (host, id DESC);
