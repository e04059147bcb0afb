import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEntry } from '../../src/store/audit.js';
import { parseExposition, sampleValue, samplesOf } from '../metrics/exposition.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * Requests refused for want of a valid token or signature (401) grow nothing: no audit row (3,000 of them once
 * wrote 3,000 rows), a counter per route pattern and a rate-limited log line instead. A real daemon, over HTTP.
 */

const files = {
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n',
  'inventories/web.yml': 'all:\n  hosts:\n    web1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
};
const secret = 'refusals-webhook-secret';
const readToken = 'refusals-read-token';

describe('requests refused with 401', () => {
  let d: RunningDaemon;
  let secrets: string;

  before(async () => {
    secrets = tempDir('fleetcd-refusals-');
    writeFileSync(join(secrets, 'webhook-secret'), `${secret}\n`, { mode: 0o600 });
    writeFileSync(join(secrets, 'read-token'), `${readToken}\n`, { mode: 0o600 });
    d = await startDaemonFleet(files, 'reconcile: { interval: 1h }', {
      repository: `webhookSecretFile: ${JSON.stringify(join(secrets, 'webhook-secret'))}`,
      api: `tokens: [{ name: reader, file: ${JSON.stringify(join(secrets, 'read-token'))}, scope: read }]`,
    });
  });

  after(async () => {
    await d?.cleanup();
    if (secrets) removeDir(secrets);
  });

  const audit = async (): Promise<AuditEntry[]> => (await d.get<{ entries: AuditEntry[] }>('/api/v1/audit?limit=500')).entries;
  const post = async (path: string, headers: Record<string, string>, body: string): Promise<number> => {
    const response = await fetch(`${d.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    await response.arrayBuffer();
    return response.status;
  };

  it('are not audited but counted by route pattern and logged at warn at most once a minute; a 403 is still audited', async () => {
    const rowsBefore = (await audit()).length;
    const n = 40;
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push(await post('/api/v1/reconcile', {}, '{"targets":["web"]}'));
    for (let i = 0; i < 5; i++) statuses.push(await post(`/api/v1/targets/web${i}/suspend`, { authorization: 'Bearer wrong' }, '{"reason":"x"}'));
    const push = '{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000"}';
    const forged = `sha256=${createHmac('sha256', 'not-the-secret').update(push).digest('hex')}`;
    for (let i = 0; i < 3; i++) statuses.push(await post('/api/v1/webhooks/git', { 'x-github-event': 'push', 'x-hub-signature-256': forged }, push));
    assert.deepEqual(new Set(statuses), new Set([401]));

    assert.equal((await audit()).length, rowsBefore, 'no audit row for a request refused with 401');

    const scraped = parseExposition(await (await fetch(`${d.base}/metrics`)).text());
    assert.equal(sampleValue(scraped, 'fleetcd_api_unauthorized_total', { route: '/api/v1/reconcile' }), n);
    assert.equal(sampleValue(scraped, 'fleetcd_api_unauthorized_total', { route: '/api/v1/targets/:name/suspend' }), 5);
    assert.equal(sampleValue(scraped, 'fleetcd_api_unauthorized_total', { route: '/api/v1/webhooks/git' }), 3);
    const routes = samplesOf(scraped, 'fleetcd_api_unauthorized_total').map((s) => s.labels.route);
    assert.deepEqual(routes.filter((route) => /web\d/.test(route ?? '')), [], 'the route pattern, never the raw path');

    const warnings = d.process
      .output()
      .split('\n')
      .filter((line) => line.includes('"level":40') && /refused|unauthori[sz]ed/i.test(line));
    assert.ok(warnings.length >= 1 && warnings.length <= 2, `48 refusals in a few seconds: one warning, the rest at debug; saw ${warnings.length}:\n${warnings.join('\n')}`);

    assert.equal(await post('/api/v1/reconcile', { authorization: `Bearer ${readToken}` }, '{"targets":["web"]}'), 403);
    const rows = await audit();
    assert.equal(rows.length, rowsBefore + 1, 'a refusal by scope is audited');
    assert.deepEqual([rows[0]!.actor, rows[0]!.path, rows[0]!.status], ['reader', '/api/v1/reconcile', 403]);
  });
});
