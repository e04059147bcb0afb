import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exchange, requestBytes } from '../../bench/torture/raw-http.js';
import { allowedHostsOf } from '../../src/api/hosts.js';
import { parseConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { makeFleet, type TestFleet } from '../helpers/fleet.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * The Host allow-list against DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 reaches
 * the daemon with `Host: evil.example`, and must get 421 and no data. Real servers, raw sockets (a client
 * library picks the Host header itself).
 */

const machine = { hostname: 'fleet-box', addresses: ['127.0.0.1', '10.1.2.3', 'fe80::1'] };
const api = (extra: Record<string, unknown> = {}) => ({ host: '127.0.0.1', ...extra }) as Parameters<typeof allowedHostsOf>[0];

describe('the default Host allow-list', () => {
  it('holds the listen address, localhost, 127.0.0.1, [::1] and the public URL host, in any letter case', () => {
    const hosts = allowedHostsOf(api({ host: '192.168.7.7', publicUrl: 'https://FleetCD.example.com/base' }), machine);
    for (const name of ['192.168.7.7', 'localhost', 'LOCALHOST', '127.0.0.1', '[::1]', 'fleetcd.example.com', 'fleetcd.example.com.']) {
      assert.ok(hosts.has(name), name);
    }
    for (const name of ['evil.example', 'fleet-box', '10.1.2.3', '', 'localhost.evil.example']) assert.ok(!hosts.has(name), name);
  });

  it('adds the machine name and its addresses when the daemon listens on every address', () => {
    for (const host of ['0.0.0.0', '::']) {
      const hosts = allowedHostsOf(api({ host }), machine);
      for (const name of ['fleet-box', '10.1.2.3', '[fe80::1]', 'localhost']) assert.ok(hosts.has(name), `${host}: ${name}`);
      assert.ok(!hosts.has('evil.example'));
    }
  });

  it('api.allowedHosts extends the defaults, and * allows any host', () => {
    const extended = allowedHostsOf(api({ allowedHosts: ['fleetcd.lan', '[fd00::7]'] }), machine);
    for (const name of ['fleetcd.lan', '[fd00::7]', 'localhost', '127.0.0.1']) assert.ok(extended.has(name), name);
    assert.ok(!extended.has('evil.example'));
    assert.ok(allowedHostsOf(api({ allowedHosts: ['*'] }), machine).has('evil.example'));
  });

  it('refuses an api.allowedHosts entry with a port or a scheme, naming the key', () => {
    for (const entry of ['fleetcd.lan:9110', 'https://fleetcd.lan', '']) {
      let message = '';
      try {
        parseConfig({ repository: { url: '/srv/fleet.git' }, api: { allowedHosts: ['localhost', entry] } }, 'fleetcd.yaml');
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        message = error.message;
      }
      assert.equal(
        message,
        'fleetcd.yaml: api.allowedHosts.1: must be a host name or IP address without a port, like fleetcd.example.com, 10.0.0.5 or [fd00::1], ' +
          `or * for any host, got ${JSON.stringify(entry)}`,
      );
    }
  });
});

describe('requests for another host', () => {
  let f: TestFleet;
  let dir: string;
  let port: number;
  const get = async (path: string, host: string, method = 'GET') =>
    (await exchange(port, requestBytes(method, path, [['Host', host]], method === 'POST' ? '{}' : undefined), 15_000)).status;

  before(async () => {
    dir = tempDir('fleetcd-hosts-');
    writeFileSync(join(dir, 'webhook-secret'), 'hosts-test-secret\n');
    f = await makeFleet(
      { 'inventories/web.yml': 'all:\n  hosts:\n    web1: {}\n', 'playbooks/site.yml': '- hosts: all\n  tasks: []\n' },
      {
        dir,
        config: {
          repository: { url: join(dir, 'origin.git'), webhookSecretFile: join(dir, 'webhook-secret') },
          api: { tokenFile: join(dir, 'api-token'), publicUrl: 'https://fleetcd.example.com', allowedHosts: ['fleetcd.lan'] },
        },
      },
    );
    await f.api.listen({ host: '127.0.0.1', port: 0 });
    port = (f.api.server.address() as AddressInfo).port;
  });

  after(async () => {
    await f.cleanup();
    removeDir(dir);
  });

  it('answers 421 for evil.example on the API and the page', async () => {
    assert.equal(await get('/api/v1/status', 'evil.example'), 421);
    assert.equal(await get('/api/v1/status', `evil.example:${port}`), 421);
    assert.equal(await get('/', 'evil.example'), 421);
    assert.equal(await get('/api/v1/reconcile', 'evil.example', 'POST'), 421);
    assert.equal(await get('/api/v1/nope', 'evil.example'), 421);
    // An absolute-form target names its host itself (RFC 9112: the server then ignores Host).
    assert.equal(await get(`http://evil.example:${port}/api/v1/status`, '127.0.0.1'), 421);
  });

  it('answers the default names, the public URL host and api.allowedHosts', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'fleetcd.example.com', 'FLEETCD.LAN']) {
      assert.equal(await get('/api/v1/status', host), 200, host);
    }
  });

  it('leaves /healthz, /metrics and the webhook route to any host', async () => {
    assert.equal(await get('/healthz', 'evil.example'), 200);
    assert.equal(await get('/metrics', 'evil.example'), 200);
    // The webhook's own check answers: no signature, 401 — not the Host check's 421.
    assert.equal(await get('/api/v1/webhooks/git', 'evil.example', 'POST'), 401);
  });
});

describe('the daemon process and the Host header', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemonFleet({ 'inventories/web.yml': 'all:\n  hosts:\n    web1: {}\n', 'playbooks/site.yml': '- hosts: all\n  tasks: []\n' });
  });
  after(() => d.cleanup());

  it('refuses evil.example with 421 by default and answers its listen address', async () => {
    const port = Number(new URL(d.base).port);
    const status = async (host: string) => (await exchange(port, requestBytes('GET', '/api/v1/status', [['Host', host]]), 15_000)).status;
    assert.equal(await status('evil.example'), 421);
    assert.equal(await status(`127.0.0.1:${port}`), 200);
    assert.equal((await exchange(port, requestBytes('GET', '/healthz', [['Host', 'evil.example']]), 15_000)).status, 200);
  });
});
