-- Webhook deliveries answered 2xx, by the forge's delivery id: a repeat within 24 hours is a duplicate and
-- does nothing. Only authenticated deliveries are written; rows older than the window are pruned.
CREATE TABLE webhook_deliveries (
  provider     TEXT NOT NULL,
  delivery_id  TEXT NOT NULL,
  event        TEXT,
  received_at  TEXT NOT NULL,
  PRIMARY KEY (provider, delivery_id)
);
CREATE INDEX webhook_deliveries_by_received_at ON webhook_deliveries (received_at);
