import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Fleet } from '../../src/reconcile/fleet.js';
import type { RunStore } from '../../src/store/runs.js';
import type { RunSummary } from '../../src/store/types.js';
import { apiToken as token, makeFleet } from '../helpers/fleet.js';

/** The sha of the plain-folder revision makeFleet uses. */
const sha = 'c0ffee'.padEnd(40, '0');

/** The tiny fleet repo: two targets of one local host each and a playbook that only prints. */
const repoFiles: Record<string, string> = {
  'inventories/web.yml': 'all:\n  hosts:\n    web1:\n      ansible_connection: local\n',
  'inventories/db/hosts.yml': 'all:\n  hosts:\n    db1:\n      ansible_connection: local\n',
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n',
};

type Api = { app: FastifyInstance; fleet: Fleet; store: RunStore; sha: string; fetchedAt: string; subject: string };

/**
 * A real Fleet (real store, real runner) at a fixed revision, with the API around it (every response checked
 * against its schema); everything is stopped and removed when the test ends. `raw` is merged into the config.
 */
async function build(t: TestContext, raw: Record<string, unknown> = {}): Promise<Api> {
  const f = await makeFleet(repoFiles, { config: { reconcile: { concurrency: 1 }, ...raw } });
  t.after(() => f.cleanup());
  const revision = f.revision!;
  return { app: f.api, fleet: f.fleet, store: f.store, sha: revision.sha, fetchedAt: revision.fetchedAt, subject: revision.subject };
}

/** inject(), checking what every response must hold: the token never appears in it. */
async function call(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
  const response = await app.inject(options);
  assert.ok(!response.body.includes(token), `${options.method ?? 'GET'} ${options.url}: the body contains the token`);
  assert.ok(!JSON.stringify(response.headers).includes(token), `${options.method ?? 'GET'} ${options.url}: a header contains the token`);
  return response;
}

const auth = { authorization: `Bearer ${token}` };

function post(app: FastifyInstance, url: string, body?: unknown, headers: Record<string, string> = auth): Promise<LightMyRequestResponse> {
  return call(app, {
    method: 'POST',
    url,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function errorOf(response: LightMyRequestResponse): string {
  const body = response.json() as { error?: unknown };
  assert.equal(typeof body.error, 'string', `no error message in ${response.body}`);
  return body.error as string;
}

/** A finished run written straight into the store, so reads have something to show without ansible. */
function recordRun(store: RunStore, target: string, hosts: Record<string, { changed?: number; failed?: number; unreachable?: number }>): number {
  const id = store.create({ target, kind: 'check', trigger: 'schedule', revision: sha });
  store.start(id, sha, null);
  const recaps = new Map(
    Object.entries(hosts).map(([host, r]) => [
      host,
      { ok: 1, changed: r.changed ?? 0, failed: r.failed ?? 0, unreachable: r.unreachable ?? 0, skipped: 0, rescued: 0, ignored: 0 },
    ]),
  );
  store.finish(id, { status: 'succeeded', exitCode: 0, error: null, hosts: recaps });
  return id;
}

describe('GET endpoints', () => {
  it('answers /healthz with ok', async (t) => {
    const { app } = await build(t);
    const response = await call(app, { method: 'GET', url: '/healthz' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { status: 'ok' });
  });

  it('shows the revision, the source and every target in /api/v1/status', async (t) => {
    const { app, fetchedAt, subject } = await build(t, { targets: { db: { mode: 'apply' } } });
    const response = await call(app, { method: 'GET', url: '/api/v1/status' });
    assert.equal(response.statusCode, 200);
    const status = response.json() as {
      revision: { sha: string; branch: string; fetchedAt: string; subject: string };
      source: { error: string | null };
      targets: Array<{ name: string; mode: string; status: string; running: boolean; lastRun: RunSummary | null; problem: string | null }>;
    };
    assert.deepEqual(status.revision, { sha, branch: 'main', fetchedAt, subject });
    assert.equal(status.source.error, null);
    assert.deepEqual(
      status.targets.map(({ name, mode, status, running, lastRun, problem }) => ({ name, mode, status, running, lastRun, problem })),
      [
        { name: 'db', mode: 'apply', status: 'unknown', running: false, lastRun: null, problem: null },
        { name: 'web', mode: 'detect', status: 'unknown', running: false, lastRun: null, problem: null },
      ],
    );
  });

  it('shows the latest finished run as lastRun and the status it implies', async (t) => {
    const { app, store } = await build(t);
    const id = recordRun(store, 'web', { web1: { changed: 2 } });
    const status = (await call(app, { method: 'GET', url: '/api/v1/status' })).json() as {
      targets: Array<{ name: string; status: string; lastRun: RunSummary | null }>;
    };
    const web = status.targets.find((t) => t.name === 'web');
    assert.equal(web?.status, 'drifted');
    assert.equal(web?.lastRun?.id, id);
    assert.equal(web?.lastRun?.revision, sha);
    assert.equal(status.targets.find((t) => t.name === 'db')?.lastRun, null);
  });

  it('answers 404 for an unknown target', async (t) => {
    const { app } = await build(t);
    const response = await call(app, { method: 'GET', url: '/api/v1/targets/nope' });
    assert.equal(response.statusCode, 404);
    assert.match(errorOf(response), /unknown target: nope/);
  });

  it("lists a target's hosts with the status of their latest run", async (t) => {
    const { app, store } = await build(t);
    assert.deepEqual((await call(app, { method: 'GET', url: '/api/v1/targets/web' })).json().hosts, []);
    recordRun(store, 'web', { web1: { changed: 2 }, web2: {}, web3: { unreachable: 1 } });
    recordRun(store, 'db', { db1: { failed: 1 } });
    const response = await call(app, { method: 'GET', url: '/api/v1/targets/web' });
    assert.equal(response.statusCode, 200);
    const body = response.json() as { name: string; mode: string; hosts: unknown[] };
    assert.equal(body.name, 'web');
    assert.equal(body.mode, 'detect');
    assert.deepEqual(body.hosts, [
      { name: 'web1', status: 'drifted', changedTasks: 2 },
      { name: 'web2', status: 'in-sync', changedTasks: 0 },
      { name: 'web3', status: 'unreachable', changedTasks: 0 },
    ]);
  });

  it('lists at most 50 runs, newest first, when no limit is given', async (t) => {
    const { app, store } = await build(t);
    assert.deepEqual((await call(app, { method: 'GET', url: '/api/v1/runs' })).json(), { runs: [] });
    const ids = Array.from({ length: 55 }, () => store.create({ target: 'web', kind: 'check', trigger: 'schedule', revision: sha }));
    const response = await call(app, { method: 'GET', url: '/api/v1/runs' });
    assert.equal(response.statusCode, 200);
    const runs = (response.json() as { runs: RunSummary[] }).runs;
    assert.equal(runs.length, 50);
    assert.equal(runs[0]?.id, ids.at(-1));
    assert.equal(runs[0]?.status, 'queued');
  });

  it('pages runs with limit and before, filtered by target', async (t) => {
    const { app, store } = await build(t);
    const ids = ['web', 'db', 'web', 'web'].map((target) => store.create({ target, kind: 'check', trigger: 'api', revision: sha }));
    const page = async (query: string): Promise<number[]> =>
      ((await call(app, { method: 'GET', url: `/api/v1/runs?${query}` })).json() as { runs: RunSummary[] }).runs.map((r) => r.id);
    assert.deepEqual(await page('target=web&limit=2'), [ids[3], ids[2]]);
    assert.deepEqual(await page(`target=web&limit=2&before=${ids[2]}`), [ids[0]]);
    assert.deepEqual(await page('limit=500'), [...ids].reverse());
  });

  it('refuses limit=501 with a 400 naming limit, not a silent cap', async (t) => {
    const { app } = await build(t);
    const response = await call(app, { method: 'GET', url: '/api/v1/runs?limit=501' });
    assert.equal(response.statusCode, 400);
    assert.match(errorOf(response), /^limit: .*501/);
  });

  it('refuses a limit that is not a positive integer with a 400', async (t) => {
    const { app } = await build(t);
    for (const limit of ['abc', '0', '-1', '2.5']) {
      const response = await call(app, { method: 'GET', url: `/api/v1/runs?limit=${limit}` });
      assert.equal(response.statusCode, 400, `limit=${limit}`);
      assert.match(errorOf(response), /^limit: /);
    }
  });

  it('answers 404 for an unknown run and 400 for a run id that is not a number', async (t) => {
    const { app } = await build(t);
    const missing = await call(app, { method: 'GET', url: '/api/v1/runs/999' });
    assert.equal(missing.statusCode, 404);
    assert.match(errorOf(missing), /no run with id 999/);
    const bad = await call(app, { method: 'GET', url: '/api/v1/runs/abc' });
    assert.equal(bad.statusCode, 400);
    assert.match(errorOf(bad), /^id: /);
  });

  it('shows one run in detail', async (t) => {
    const { app, store } = await build(t);
    const id = recordRun(store, 'web', { web1: { changed: 1 } });
    const response = await call(app, { method: 'GET', url: `/api/v1/runs/${id}` });
    assert.equal(response.statusCode, 200);
    const run = response.json() as RunSummary & { hosts: Array<{ host: string }> };
    assert.equal(run.id, id);
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.summary, { hosts: 1, ok: 1, changed: 1, failed: 0, unreachable: 0, skipped: 0 });
    assert.deepEqual(
      run.hosts.map((h) => h.host),
      ['web1'],
    );
  });
});

describe('POST /api/v1/reconcile', () => {
  it('refuses a request without a token with 401', async (t) => {
    const { app } = await build(t);
    const response = await post(app, '/api/v1/reconcile', {}, {});
    assert.equal(response.statusCode, 401);
    assert.match(errorOf(response), /missing bearer token/);
  });

  it('refuses a wrong token with 401 and does not echo it', async (t) => {
    const { app } = await build(t);
    for (const header of [`Bearer ${token}x`, 'Bearer wrong', `Basic ${token}`, `Bearer`]) {
      const response = await post(app, '/api/v1/reconcile', {}, { authorization: header.replace(token, 'guess') });
      assert.equal(response.statusCode, 401, header);
    }
    const response = await post(app, '/api/v1/reconcile', {}, { authorization: 'Bearer my-guess-123' });
    assert.equal(response.statusCode, 401);
    assert.doesNotMatch(response.body, /my-guess-123/);
  });

  it('checks the token before the body: bad JSON without a token is a 401', async (t) => {
    const { app } = await build(t);
    const noToken = await post(app, '/api/v1/reconcile', '{"targets": [', {});
    assert.equal(noToken.statusCode, 401);
    const wrongToken = await post(app, '/api/v1/reconcile', { bogus: 1 }, { authorization: 'Bearer nope' });
    assert.equal(wrongToken.statusCode, 401);
  });

  it('refuses malformed JSON with a valid token with 400', async (t) => {
    const { app } = await build(t);
    const response = await post(app, '/api/v1/reconcile', '{"targets": [');
    assert.equal(response.statusCode, 400);
    assert.deepEqual((await call(app, { method: 'GET', url: '/api/v1/runs' })).json(), { runs: [] });
  });

  it('refuses targets that are not a list with a 400 naming targets', async (t) => {
    const { app } = await build(t);
    const response = await post(app, '/api/v1/reconcile', { targets: 'web' });
    assert.equal(response.statusCode, 400);
    assert.match(errorOf(response), /^targets: /);
  });

  it('refuses an unknown mode with a 400 naming mode', async (t) => {
    const { app } = await build(t);
    const response = await post(app, '/api/v1/reconcile', { mode: 'heal' });
    assert.equal(response.statusCode, 400);
    assert.match(errorOf(response), /^mode: .*"heal"/);
  });

  it('refuses an unknown field with a 400 naming it', async (t) => {
    const { app } = await build(t);
    const response = await post(app, '/api/v1/reconcile', { bogus: 1 });
    assert.equal(response.statusCode, 400);
    assert.match(errorOf(response), /^bogus: unknown field/);
  });

  it('answers 404 for an unknown target and queues nothing, not even for the known ones', async (t) => {
    const { app } = await build(t);
    const response = await post(app, '/api/v1/reconcile', { targets: ['web', 'nope'] });
    assert.equal(response.statusCode, 404);
    assert.match(errorOf(response), /unknown target: nope/);
    assert.deepEqual((await call(app, { method: 'GET', url: '/api/v1/runs' })).json(), { runs: [] });
  });

  it('queues a check of every target when none are named, answering 202 with the runs', async (t) => {
    const { app, store } = await build(t);
    const response = await post(app, '/api/v1/reconcile', {});
    assert.equal(response.statusCode, 202);
    const { runs } = response.json() as { runs: Array<{ id: number; target: string }> };
    assert.deepEqual(
      runs.map((r) => r.target),
      ['db', 'web'],
    );
    for (const run of runs) {
      assert.equal(typeof run.id, 'number');
      const stored = store.get(run.id);
      assert.equal(stored?.target, run.target);
      assert.equal(stored?.kind, 'check');
      assert.equal(stored?.trigger, 'api');
      assert.equal(stored?.revision, sha);
    }
    const status = (await call(app, { method: 'GET', url: '/api/v1/status' })).json() as { targets: Array<{ running: boolean }> };
    assert.deepEqual(
      status.targets.map((t) => t.running),
      [true, true],
    );
  });

  it('queues only the named targets, and accepts an empty body', async (t) => {
    const { app } = await build(t);
    const named = await post(app, '/api/v1/reconcile', { targets: ['web'], mode: 'check' });
    assert.equal(named.statusCode, 202);
    assert.deepEqual(
      (named.json() as { runs: Array<{ target: string }> }).runs.map((r) => r.target),
      ['web'],
    );
    const empty = await post(app, '/api/v1/reconcile');
    assert.equal(empty.statusCode, 202);
  });

  it('joins a request for a target whose run is still queued: same run id', async (t) => {
    const { app, store } = await build(t);
    // Concurrency 1: db's check takes the only slot, so web's stays queued behind it.
    const first = (await post(app, '/api/v1/reconcile', {})).json() as { runs: Array<{ id: number; target: string }> };
    const webRun = first.runs.find((r) => r.target === 'web')!;
    const [again, andAgain] = await Promise.all([
      post(app, '/api/v1/reconcile', { targets: ['web'] }),
      post(app, '/api/v1/reconcile', { targets: ['web'] }),
    ]);
    assert.equal(again.statusCode, 202);
    const againId = (again.json() as { runs: Array<{ id: number }> }).runs[0]?.id;
    const andAgainId = (andAgain.json() as { runs: Array<{ id: number }> }).runs[0]?.id;
    assert.equal(store.get(webRun.id)?.status, 'queued');
    assert.equal(againId, webRun.id, 'a request while the run is queued joins it');
    assert.equal(andAgainId, webRun.id);
    const webRuns = store.list({ target: 'web', limit: 50 });
    assert.equal(webRuns.length, 1, `web has runs ${webRuns.map((r) => `${r.id}:${r.status}`).join(', ')}`);
  });
});

describe('POST /api/v1/runs/:id/cancel', () => {
  it('needs the token', async (t) => {
    const { app, store } = await build(t);
    const id = store.create({ target: 'web', kind: 'check', trigger: 'api', revision: sha });
    const response = await post(app, `/api/v1/runs/${id}/cancel`, undefined, {});
    assert.equal(response.statusCode, 401);
    assert.equal(store.get(id)?.status, 'queued');
  });

  it('cancels a queued run: 202, and the run ends cancelled without running', async (t) => {
    const { app, fleet } = await build(t);
    const { runs } = (await post(app, '/api/v1/reconcile', {})).json() as { runs: Array<{ id: number; target: string }> };
    const webRun = runs.find((r) => r.target === 'web')!;
    const response = await post(app, `/api/v1/runs/${webRun.id}/cancel`);
    assert.equal(response.statusCode, 202);
    assert.deepEqual(response.json(), { id: webRun.id, cancelling: true });
    await fleet.reconciler.idle();
    const run = (await call(app, { method: 'GET', url: `/api/v1/runs/${webRun.id}` })).json() as RunSummary & { hosts: unknown[] };
    assert.equal(run.status, 'cancelled');
    assert.equal(run.startedAt, null);
    assert.deepEqual(run.hosts, []);
    const log = await call(app, { method: 'GET', url: `/api/v1/runs/${webRun.id}/log` });
    assert.equal(log.statusCode, 404, 'a cancelled queued run never ran ansible-playbook');
  });

  it('refuses to cancel a finished run with 409', async (t) => {
    const { app, store } = await build(t);
    const id = recordRun(store, 'web', { web1: {} });
    const response = await post(app, `/api/v1/runs/${id}/cancel`);
    assert.equal(response.statusCode, 409);
    assert.match(errorOf(response), /is succeeded/);
    assert.equal(store.get(id)?.status, 'succeeded');
  });

  it('answers 404 for an unknown run and 400 for an id that is not a number', async (t) => {
    const { app } = await build(t);
    assert.equal((await post(app, '/api/v1/runs/999/cancel')).statusCode, 404);
    assert.equal((await post(app, '/api/v1/runs/x1/cancel')).statusCode, 400);
  });
});

describe('unknown routes', () => {
  it('answer 404 naming the route', async (t) => {
    const { app } = await build(t);
    const response = await call(app, { method: 'GET', url: '/api/v1/nothing?x=1' });
    assert.equal(response.statusCode, 404);
    assert.equal(errorOf(response), 'no route GET /api/v1/nothing');
  });
});

describe('the OpenAPI document', () => {
  it('lists every declared route with its success response schema, so it cannot drift from the code', async (t) => {
    const { app } = await build(t);
    const response = await call(app, { method: 'GET', url: '/api/v1/openapi.json' });
    assert.equal(response.statusCode, 200);
    const doc = response.json() as { openapi: string; paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }> }>> };
    assert.match(doc.openapi, /^3\./);
    const routes = app.declaredRoutes.filter((r) => !r.hidden);
    assert.ok(routes.length >= 10, `only ${routes.length} routes declared`);
    for (const route of routes) {
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const operation = doc.paths[path]?.[route.method.toLowerCase()];
      assert.ok(operation, `${route.method} ${route.url} is missing from the document`);
      const success = route.responses.find((code) => code.startsWith('2'));
      assert.ok(success, `${route.method} ${route.url} declares no success response schema`);
      assert.ok(operation.responses?.[success]?.content, `${route.method} ${route.url}: no ${success} response schema in the document`);
    }
  });
});

describe('an unexpected error', () => {
  it('is a 500 that says to read the log, and the log has the message and the stack', async (t) => {
    const f = await makeFleet(repoFiles);
    t.after(() => f.cleanup());
    f.db.close();
    const response = await call(f.api, { method: 'GET', url: '/api/v1/status' });
    assert.equal(response.statusCode, 500);
    assert.deepEqual(response.json(), { error: 'internal error; see the fleetcd log' });
    const line = readFileSync(f.logFile, 'utf8').split('\n').find((l) => l.includes('request failed'));
    assert.ok(line, 'a log line for the failed request');
    const entry = JSON.parse(line) as { err: string; stack: string; url: string };
    assert.match(entry.err, /database connection is not open/);
    assert.match(entry.stack, /\n\s+at /);
    assert.equal(entry.url, '/api/v1/status');
  });
});
