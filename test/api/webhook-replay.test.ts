import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * Webhook deliveries already answered are kept in the database: a real daemon restarted still knows them, and
 * forgets one older than the 24-hour window.
 */

const files = { 'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks: []\n', 'inventories/web.yml': 'all:\n  hosts: {}\n' };
const secret = 'replay-webhook-secret';
const body = '{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}';

describe('webhook deliveries across restarts', () => {
  let d: RunningDaemon;
  let secrets: string;

  before(async () => {
    secrets = tempDir('fleetcd-replay-');
    writeFileSync(join(secrets, 'webhook-secret'), `${secret}\n`, { mode: 0o600 });
    d = await startDaemonFleet(files, 'reconcile: { interval: 1h }', { repository: `webhookSecretFile: ${JSON.stringify(join(secrets, 'webhook-secret'))}` });
  });

  after(async () => {
    await d?.cleanup();
    if (secrets) removeDir(secrets);
  });

  const deliver = async (id: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${d.base}/api/v1/webhooks/git`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-github-delivery': id,
        'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
      },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it('a delivery answered before a restart is a duplicate after it; one older than 24 h is processed again', async () => {
    const first = await deliver('5d2e7a10-0000-4000-8000-000000000001');
    assert.deepEqual([first.status, first.body.fetching], [202, true], JSON.stringify(first.body));
    await d.stop();
    await d.restart();

    const repeat = await deliver('5d2e7a10-0000-4000-8000-000000000001');
    assert.deepEqual([repeat.status, repeat.body.duplicate, repeat.body.message], [202, true, 'duplicate delivery'], JSON.stringify(repeat.body));
    const other = await deliver('5d2e7a10-0000-4000-8000-000000000002');
    assert.deepEqual([other.status, other.body.fetching], [202, true], 'another id is another delivery');

    await d.stop();
    const db = new Database(join(d.stateDir, 'fleetcd.db'));
    try {
      const dayAndAHourAgo = new Date(Date.now() - 25 * 3_600_000).toISOString();
      const moved = db.prepare('UPDATE webhook_deliveries SET received_at = ? WHERE delivery_id = ?').run(dayAndAHourAgo, '5d2e7a10-0000-4000-8000-000000000001');
      assert.equal(moved.changes, 1);
    } finally {
      db.close();
    }
    await d.restart();
    const late = await deliver('5d2e7a10-0000-4000-8000-000000000001');
    assert.deepEqual([late.status, late.body.fetching, late.body.duplicate], [202, true, undefined], JSON.stringify(late.body));
  });
});
