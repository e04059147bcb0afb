import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import type { AddressInfo } from 'node:net';
import { loadTokens } from '../../src/api/auth.js';
import { buildApi } from '../../src/api/server.js';
import { apiToken, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * Scoped tokens (read and write), GETs that need a token when the config says so, who asked for a run, the
 * audit log of every state-changing request, the access log, and HTTPS with api.tls.
 */

const files = {
  'inventories/web.yml': 'all:\n  hosts:\n    web1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n',
};

describe('API tokens and the audit log', () => {
  let f: TestFleet;
  let dir: string;
  const readToken = 'read-only-token-123';
  const writeToken = 'ops-write-token-456';
  const call = (method: 'GET' | 'POST', url: string, token?: string, body?: unknown) =>
    f.api.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      payload: body ? JSON.stringify(body) : undefined,
    });

  before(async () => {
    dir = tempDir('fleetcd-tokens-');
    writeFileSync(join(dir, 'ci-token'), `${readToken}\n`);
    writeFileSync(join(dir, 'ops-token'), `${writeToken}\n`);
    f = await makeFleet(files, {
      dir,
      config: {
        api: {
          tokenFile: join(dir, 'api-token'),
          requireReadToken: true,
          tokens: [
            { name: 'ci', file: join(dir, 'ci-token'), scope: 'read' },
            { name: 'ops', file: join(dir, 'ops-token'), scope: 'write' },
          ],
        },
      },
    });
  });

  after(async () => {
    await f.cleanup();
    removeDir(dir);
  });

  it('asks every GET of the API for a token, but not /healthz, and refuses an unknown one with 401', async () => {
    assert.equal((await call('GET', '/api/v1/status')).statusCode, 401);
    assert.equal((await call('GET', '/api/v1/runs', 'guess')).statusCode, 401);
    assert.equal((await call('GET', '/api/v1/status', readToken)).statusCode, 200);
    assert.equal((await call('GET', '/api/v1/status', writeToken)).statusCode, 200);
    assert.equal((await call('GET', '/healthz')).statusCode, 200);
  });

  it('refuses a write with a read token with 403 naming the token, and queues nothing', async () => {
    const response = await call('POST', '/api/v1/reconcile', readToken, { targets: ['web'] });
    assert.equal(response.statusCode, 403);
    assert.deepEqual(response.json(), { error: 'token ci may only read; this needs a write token' });
    assert.deepEqual(f.fleet.runs({ limit: 10 }), []);
  });

  it('records the token name as who asked for a run; the legacy tokenFile is "api"', async () => {
    const ops = (await call('POST', '/api/v1/reconcile', writeToken, { targets: ['web'], mode: 'check' })).json() as { runs: Array<{ id: number }> };
    await f.fleet.reconciler.idle();
    assert.equal(f.fleet.run(ops.runs[0]!.id).requestedBy, 'ops');
    const legacy = (await call('POST', '/api/v1/reconcile', apiToken, { targets: ['web'], mode: 'check' })).json() as { runs: Array<{ id: number }> };
    await f.fleet.reconciler.idle();
    assert.equal(f.fleet.run(legacy.runs[0]!.id).requestedBy, 'api');
  });

  it('keeps an audit log of every state-changing request, refusals by scope included, without tokens; a 401 is left out', async () => {
    await call('POST', '/api/v1/targets/web/suspend', writeToken, { reason: 'audit me' });
    assert.equal((await call('POST', '/api/v1/targets/web/resume', 'wrong')).statusCode, 401);
    const response = await call('GET', '/api/v1/audit?limit=10', readToken);
    assert.equal(response.statusCode, 200);
    const { entries } = response.json() as { entries: Array<{ actor: string | null; path: string; status: number; request: unknown; answer: string | null }> };
    assert.deepEqual(
      entries.map((e) => [e.actor, e.path, e.status]),
      [
        ['ops', '/api/v1/targets/web/suspend', 200],
        ['api', '/api/v1/reconcile', 202],
        ['ops', '/api/v1/reconcile', 202],
        ['ci', '/api/v1/reconcile', 403],
      ],
    );
    assert.deepEqual(entries[0]!.request, { reason: 'audit me' });
    assert.equal(entries[3]!.answer, 'token ci may only read; this needs a write token');
    for (const secret of [readToken, writeToken, apiToken]) assert.ok(!response.body.includes(secret));
  });

  it('keeps a refused body over 4 KiB cut short, and the audit log still reads', async () => {
    const long = await call('POST', '/api/v1/targets/nope/suspend', writeToken, { reason: 'x', padding: 'y'.repeat(5000) });
    assert.equal(long.statusCode, 400);
    const response = await call('GET', '/api/v1/audit?limit=1', readToken);
    assert.equal(response.statusCode, 200);
    const [entry] = (response.json() as { entries: Array<{ request: unknown }> }).entries;
    assert.equal(typeof entry?.request, 'string');
    assert.match(entry?.request as string, /^\{"reason":"x","padding":"y+…\(cut at 4096 of 5027 characters\)$/);
  });

  it('refuses a body nested deeper than 32 levels with 400, and records it', async () => {
    const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    for (const url of ['/api/v1/reconcile', '/api/v1/previews', '/api/v1/targets/web/resume']) {
      const response = await f.api.inject({
        method: 'POST',
        url,
        headers: { authorization: `Bearer ${writeToken}`, 'content-type': 'application/json' },
        payload: `{"targets": ${nested}}`,
      });
      assert.equal(response.statusCode, 400, url);
      assert.deepEqual(response.json(), { error: 'request body: nests deeper than 32 levels' });
    }
    const shallow = await call('POST', '/api/v1/reconcile', writeToken, { targets: [[[['web']]]] });
    assert.equal(shallow.statusCode, 400, 'a shallow body of the wrong type is still a field error');
    assert.match((shallow.json() as { error: string }).error, /^targets\.0: /);
    assert.equal((await call('GET', '/api/v1/audit?limit=5', readToken)).statusCode, 200);
  });

  it('logs each request at debug with its path, status and token name, never the token', () => {
    const lines = readFileSync(f.logFile, 'utf8').split('\n').filter((l) => l.includes('"msg":"request"'));
    assert.ok(lines.some((l) => l.includes('"path":"/api/v1/reconcile"') && l.includes('"actor":"ops"') && l.includes('"status":202')));
    for (const secret of [readToken, writeToken, apiToken]) assert.ok(!readFileSync(f.logFile, 'utf8').includes(secret));
  });
});

describe('api.tls', () => {
  it('serves HTTPS with the configured certificate and key', async (t) => {
    const dir = tempDir('fleetcd-tls-');
    t.after(() => removeDir(dir));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const f = await makeFleet(files, { dir });
    t.after(() => f.cleanup());
    const app = buildApi({ fleet: f.fleet, log: pino({ level: 'silent' }), tokens: () => loadTokens(f.config.api), tls: { certFile: cert, keyFile: key } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => app.close());
    const { port } = app.server.address() as AddressInfo;
    const request = httpsRequest({ host: '127.0.0.1', port, path: '/healthz', ca: readFileSync(cert) });
    request.end();
    const [response] = (await once(request, 'response')) as [import('node:http').IncomingMessage];
    let body = '';
    for await (const chunk of response) body += String(chunk);
    assert.equal(response.statusCode, 200);
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  });
});
