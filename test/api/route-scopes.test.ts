import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { OpenAPIV3 } from 'openapi-types';
import { pino } from 'pino';
import { exchange, requestBytes, type HeaderList } from '../../bench/torture/raw-http.js';
import { spellings } from '../../bench/torture/url-spellings.js';
import { buildApi } from '../../src/api/server.js';
import { makeFleet, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

/*
 * Contract note 20: scopes belong to routes. A real listening server, asked over a raw socket (a client library
 * would normalise the very spellings under test), for every route of its OpenAPI document in many spellings.
 */

const files = {
  'inventories/web.yml': 'all:\n  hosts:\n    web1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n',
};

/** The routes anyone may call: the health check, the metrics, and the webhook (its signature is its authentication). */
const publicRoutes = new Set(['GET /healthz', 'GET /metrics', 'POST /api/v1/webhooks/git']);

describe('scopes belong to routes (contract note 20)', () => {
  let f: TestFleet;
  let dir: string;
  let port: number;
  let document: OpenAPIV3.Document;
  let runId: number;
  const readToken = 'route-scope-read-token';

  before(async () => {
    dir = tempDir('fleetcd-scopes-');
    writeFileSync(join(dir, 'ci-token'), `${readToken}\n`);
    f = await makeFleet(files, {
      dir,
      config: { api: { tokenFile: join(dir, 'api-token'), requireReadToken: true, tokens: [{ name: 'ci', file: join(dir, 'ci-token'), scope: 'read' }] } },
    });
    // A finished run, so its log, events and detail exist and would be data if they leaked.
    const [queued] = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' });
    await f.fleet.reconciler.idle();
    runId = queued!.id;
    await f.api.listen({ host: '127.0.0.1', port: 0 });
    port = (f.api.server.address() as AddressInfo).port;
    const answer = await fetch(`http://127.0.0.1:${port}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${readToken}` } });
    assert.equal(answer.status, 200);
    document = (await answer.json()) as OpenAPIV3.Document;
  });

  after(async () => {
    await f.cleanup();
    removeDir(dir);
  });

  /** Every route of the document, and the hidden document itself, with its parameters filled in. */
  const routes = (): Array<{ method: string; path: string; template: string }> => {
    const fill = (template: string): string =>
      template === '/api/v1/compare'
        ? `${template}?from=web&to=web`
        : template.replace('{id}', String(runId)).replace('{name}', template.startsWith('/api/v1/hosts/') ? 'web1' : 'web');
    const declared = Object.entries(document.paths).flatMap(([template, item]) =>
      (['get', 'post'] as const).filter((method) => item?.[method]).map((method) => ({ method: method.toUpperCase(), template, path: fill(template) })),
    );
    return [...declared, { method: 'GET', template: '/api/v1/openapi.json', path: '/api/v1/openapi.json' }];
  };

  const send = async (method: string, target: string, headers: HeaderList = []) => {
    const body = method === 'POST' ? '{}' : undefined;
    const outcome = await exchange(port, requestBytes(method, target, method === 'POST' ? [...headers, ['Content-Type', 'application/json']] : headers, body), 15_000);
    return outcome;
  };

  it('answers every route in every spelling without a token with 401 or 404 (421 for another host, 400 for what HTTP cannot carry), never data', async () => {
    const checked = routes().filter((route) => !publicRoutes.has(`${route.method} ${route.template}`));
    assert.ok(checked.length >= 15, `the document lists the API's routes (${checked.length})`);
    const leaks: string[] = [];
    for (const route of checked) {
      const methods = route.method === 'GET' ? ['GET', 'HEAD'] : [route.method];
      for (const method of methods) {
        for (const [how, target] of spellings(route.path, port)) {
          const outcome = await send(method, target);
          // 421: an absolute-form target naming another host is refused by the Host allow-list first; 400: Node's
          // HTTP parser refuses a target it cannot read (a backslash, a fragment) before any route is looked up.
          const refused =
            outcome.status === 401 || outcome.status === 404 || (outcome.status === 421 && how.includes('another host')) || (outcome.status === 400 && /backslash|fragment/.test(how));
          if (!refused) leaks.push(`${method} ${target} (${how}) → ${outcome.status}`);
        }
      }
    }
    assert.deepEqual(leaks, []);
  });

  it('answers the canonical spelling of every read route with a read token (200, or 404 for what does not exist)', async () => {
    // This fleet watches no repository (its revision is a folder), keeps no notification log, and has no preview.
    const absent = new Set(['/api/v1/source', '/api/v1/notifications', '/api/v1/previews/{id}']);
    for (const route of routes().filter((r) => r.method === 'GET')) {
      const outcome = await send('GET', route.path, [['Authorization', `Bearer ${readToken}`]]);
      assert.equal(outcome.status, absent.has(route.template) ? 404 : 200, `GET ${route.path}: ${outcome.head.split('\r\n')[0]}`);
    }
  });

  it("serves a run's log as text/plain with X-Content-Type-Options: nosniff (a log may hold anything a task printed)", async () => {
    const answer = await fetch(`http://127.0.0.1:${port}/api/v1/runs/${runId}/log`, { headers: { authorization: `Bearer ${readToken}` } });
    assert.equal(answer.status, 200);
    assert.match(await answer.text(), /PLAY RECAP/);
    assert.equal(answer.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff');
  });

  it('answers an unknown path 404, with or without a token', async () => {
    assert.equal((await send('GET', '/api/v1/nope')).status, 404);
    assert.equal((await send('GET', '/api/v1/nope', [['Authorization', `Bearer ${readToken}`]])).status, 404);
  });
});

describe('a route must declare its scope', () => {
  let f: TestFleet;
  before(async () => {
    f = await makeFleet(files);
  });
  after(() => f.cleanup());
  /** A fresh API (not booted yet, so routes can still be added) around a real fleet. */
  const api = (t: { after(fn: () => Promise<unknown>): void }) => {
    const app = buildApi({ fleet: f.fleet, log: pino({ level: 'silent' }), tokens: () => [] });
    t.after(() => app.close());
    return app;
  };

  it('refuses a route declared without a scope', (t) => {
    const app = api(t);
    assert.throws(() => app.get('/unscoped', async () => 'data'), /route GET \/unscoped declares no scope/);
  });

  it('refuses a route in a plugin declared without a scope, so the API never starts', async (t) => {
    const app = api(t);
    void app.register(async (scope) => {
      scope.post('/api/v1/unscoped', async () => 'data');
    });
    await assert.rejects(async () => app.ready(), /route POST \/api\/v1\/unscoped declares no scope/);
  });

  it('refuses a scope that is not none, read or write', (t) => {
    const app = api(t);
    assert.throws(() => app.get('/odd', { config: { scope: 'admin' as never } }, async () => 'data'), /declares no scope/);
  });
});
