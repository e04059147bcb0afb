-- Notification deliveries: one row per notification × event, updated as its attempts go. The receiver's URL
-- and its secret header are never stored (a Slack webhook URL is itself a secret); `notification` names it.
-- `run_id` is what the event was about, kept as history: runs are pruned on their own rules, so no foreign key.
CREATE TABLE notification_deliveries (
  id INTEGER PRIMARY KEY,
  notification TEXT NOT NULL,
  event TEXT NOT NULL,
  target TEXT,
  run_id INTEGER,
  summary TEXT NOT NULL,
  created_at TEXT NOT NULL,
  attempted_at TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  http_status INTEGER,
  error TEXT
);

-- Retention deletes by age.
CREATE INDEX notification_deliveries_by_created ON notification_deliveries (created_at);
