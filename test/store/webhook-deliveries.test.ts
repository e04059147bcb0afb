import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Pruner } from '../../src/reconcile/pruner.js';
import { openDatabase } from '../../src/store/db.js';
import { RunRetention } from '../../src/store/retention.js';
import { WebhookDeliveries, webhookDeliveryWindowMs } from '../../src/store/webhook-deliveries.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * The webhook deliveries already answered, in a real SQLite file: seen for 24 hours, then forgotten by the
 * retention pass, so a forge's ids cannot grow the database for ever.
 */

const hours = (n: number): number => n * 3_600_000;

describe('webhook deliveries', () => {
  it('are seen within 24 h and pruned by the retention pass after that, whatever retention.maxAge', async (t) => {
    const dir = tempDir('fleetcd-deliveries-');
    t.after(() => removeDir(dir));
    const db = openDatabase(join(dir, 'fleetcd.db'));
    t.after(() => db.close());
    const deliveries = new WebhookDeliveries(db);
    const now = Date.now();
    const old = { provider: 'github', id: 'old-delivery', event: 'push' };
    const recent = { provider: 'github', id: 'recent-delivery', event: 'push' };
    deliveries.remember(old, new Date(now - hours(25)));
    deliveries.remember(recent, new Date(now - hours(23)));
    assert.equal(webhookDeliveryWindowMs, hours(24));
    assert.equal(deliveries.seen(old), undefined, 'older than the window: not a duplicate any more');
    assert.equal(deliveries.seen(recent), new Date(now - hours(23)).toISOString());
    assert.equal(deliveries.seen({ provider: 'gitlab', id: 'recent-delivery' }), undefined, 'ids are per provider');

    // A retention.maxAge of a year keeps runs that long; the deliveries still go after their own window.
    const pruner = new Pruner({
      retention: new RunRetention(db),
      policy: () => ({ maxAgeMs: hours(24 * 365), maxRunsPerTarget: 1000 }),
      stateDir: () => dir,
      inUse: () => new Set(),
      files: async () => undefined,
      gc: async () => undefined,
      log: pino({ level: 'silent' }),
    });
    await pruner.prune();
    const rows = db.prepare('SELECT delivery_id FROM webhook_deliveries ORDER BY delivery_id').all() as Array<{ delivery_id: string }>;
    assert.deepEqual(rows.map((row) => row.delivery_id), ['recent-delivery']);
  });
});
