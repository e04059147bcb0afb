import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fleetRepo, git, makeWatchedFleet, scratch, writeFile } from '../source/support.js';
import { waitFor } from '../helpers/wait.js';

const secret = 'a-long-webhook-secret';
const path = '/api/v1/webhooks/git';

/** A watched fleet with webhooks on; `counting` is its real GitSource, whose `fetches` counts fetch attempts. */
async function watched(t: TestContext, repository: Record<string, unknown> = {}) {
  const repo = await fleetRepo(t);
  const dir = scratch(t);
  const webhookSecretFile = writeFile(join(dir, 'webhook-secret'), `${secret}\n`);
  const parts = await makeWatchedFleet(t, dir, { url: repo.origin, webhookSecretFile, ...repository });
  return { repo, ...parts, counting: parts.source };
}

function github(body: string, key = secret, event = 'push') {
  return {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-hub-signature-256': `sha256=${createHmac('sha256', key).update(body).digest('hex')}`,
  };
}

const pushTo = (ref: string, extra = ''): string => `{"ref":"${ref}","after":"${'0'.repeat(40)}"${extra}}`;

describe('POST /api/v1/webhooks/git', () => {
  it('a signed GitHub push to the watched branch fetches at once, without a bearer token', async (t) => {
    const { repo, api, fleet } = await watched(t);
    const next = await repo.commit({ 'new.yml': 'new\n' }, 'pushed');
    const body = pushTo('refs/heads/main');

    const started = Date.now();
    const reply = await api.inject({ method: 'POST', url: path, headers: github(body), payload: body });

    assert.equal(reply.statusCode, 202, reply.body);
    assert.deepEqual(reply.json(), { provider: 'github', event: 'push', ref: 'refs/heads/main', after: '0'.repeat(40), fetching: true });
    await waitFor('the pushed commit to be fetched', () => fleet.sourceView()?.sha === next, 1000, 5);
    assert.ok(Date.now() - started < 1000);
  });

  it('accepts GitLab’s token and Gitea’s hex signature the same way', async (t) => {
    const { repo, api, fleet } = await watched(t);
    const body = pushTo('refs/heads/main');
    const first = await repo.commit({ 'a.yml': 'a\n' }, 'for gitlab');
    const gitlab = await api.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': secret },
      payload: body,
    });
    assert.equal(gitlab.statusCode, 202, gitlab.body);
    await waitFor('the GitLab push', () => fleet.sourceView()?.sha === first, 1000, 5);

    const second = await repo.commit({ 'b.yml': 'b\n' }, 'for gitea');
    const gitea = await api.inject({
      method: 'POST',
      url: path,
      headers: { 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-signature': createHmac('sha256', secret).update(body).digest('hex') },
      payload: body,
    });
    assert.equal(gitea.statusCode, 202, gitea.body);
    assert.equal(gitea.json().provider, 'gitea');
    await waitFor('the Gitea push', () => fleet.sourceView()?.sha === second, 1000, 5);
  });

  it('computes the HMAC over the raw bytes, whatever their spacing, escapes or content type', async (t) => {
    const { api } = await watched(t);
    const body = '{ "ref" :\n  "refs\\/heads\\/main", "after": "\\u0030",  "note": "caf\u00e9" }\n';
    for (const contentType of ['application/json', 'application/json; charset=utf-8', 'text/plain']) {
      const headers = { ...github(body), 'content-type': contentType };
      const reply = await api.inject({ method: 'POST', url: path, headers, payload: Buffer.from(body) });
      assert.equal(reply.statusCode, 202, `${contentType}: ${reply.body}`);
      assert.equal(reply.json().fetching, true);
    }
    const bare = await api.inject({ method: 'POST', url: path, headers: { 'x-gitlab-token': secret }, payload: pushTo('refs/heads/main') });
    assert.equal(bare.statusCode, 202, `no content type: ${bare.body}`);
    const form = `payload=${encodeURIComponent(pushTo('refs/heads/main'))}`;
    const reply = await api.inject({
      method: 'POST',
      url: path,
      headers: { ...github(form), 'content-type': 'application/x-www-form-urlencoded' },
      payload: form,
    });
    assert.equal(reply.statusCode, 202, reply.body);
  });

  it('acknowledges and ignores a push to another branch, a tag, a ping and other events', async (t) => {
    const { api, counting } = await watched(t);
    const before = counting.fetches;
    for (const [body, event, expected] of [
      [pushTo('refs/heads/feature'), 'push', /push to refs\/heads\/feature; watching refs\/heads\/main/],
      [pushTo('refs/tags/v1'), 'push', /push to refs\/tags\/v1/],
      [pushTo('refs/heads/main'), 'issues', /event issues is not a push/],
    ] as const) {
      const reply = await api.inject({ method: 'POST', url: path, headers: github(body, secret, event), payload: body });
      assert.equal(reply.statusCode, 202);
      assert.equal(reply.json().ignored, true);
      assert.match(reply.json().reason, expected);
    }
    const ping = await api.inject({ method: 'POST', url: path, headers: github('{"zen":"hi"}', secret, 'ping'), payload: '{"zen":"hi"}' });
    assert.equal(ping.statusCode, 200);
    assert.equal(ping.json().pong, true);
    await sleep(100);
    assert.equal(counting.fetches, before, 'nothing was fetched');
  });

  it('answers 401 to a bad or missing signature and fetches nothing', async (t) => {
    const { api, counting } = await watched(t);
    const before = counting.fetches;
    const body = pushTo('refs/heads/main');
    const attempts = [
      github(body, 'wrong-secret'),
      { ...github(pushTo('refs/heads/other')), 'content-type': 'application/json' },
      { 'content-type': 'application/json', 'x-github-event': 'push' },
      { 'content-type': 'application/json', 'x-gitlab-token': 'wrong' },
      { 'content-type': 'application/json', 'x-gitea-signature': 'abc' },
      { 'content-type': 'application/json', 'x-github-event': 'push', authorization: 'Bearer api-token-for-tests' },
    ];
    for (const headers of attempts) {
      const reply = await api.inject({ method: 'POST', url: path, headers, payload: body });
      assert.equal(reply.statusCode, 401, JSON.stringify(headers));
      assert.match(reply.json().error, /signature|token|X-Gitlab-Token|X-Gitea-Signature/i);
    }
    await sleep(100);
    assert.equal(counting.fetches, before);
  });

  it('refuses a body over 1 MiB with 413, signed or not', async (t) => {
    const { api, counting } = await watched(t);
    const before = counting.fetches;
    const body = pushTo('refs/heads/main', `,"padding":"${'x'.repeat(1024 * 1024)}"`);
    const reply = await api.inject({ method: 'POST', url: path, headers: github(body), payload: body });
    assert.equal(reply.statusCode, 413);
    const fits = pushTo('refs/heads/main', `,"padding":"${'x'.repeat(512 * 1024)}"`);
    assert.equal((await api.inject({ method: 'POST', url: path, headers: github(fits), payload: fits })).statusCode, 202);
    await waitFor('the fetch of the delivery that fits', () => counting.fetches > before, 1000, 5);
  });

  it('de-duplicates a signed delivery by its id: sent three times it fetches once, the repeats are 202 duplicate', async (t) => {
    const { repo, api, fleet, counting } = await watched(t);
    const next = await repo.commit({ 'replayed.yml': 'r\n' }, 'replayed');
    const body = pushTo('refs/heads/main');
    const headers = { ...github(body), 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' };
    const before = counting.fetches;
    const first = await api.inject({ method: 'POST', url: path, headers, payload: body });
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(first.json().fetching, true);
    await waitFor('the delivered push to be fetched', () => fleet.sourceView()?.sha === next, 2000, 5);
    for (let i = 0; i < 2; i++) {
      const repeat = await api.inject({ method: 'POST', url: path, headers, payload: body });
      assert.equal(repeat.statusCode, 202, repeat.body);
      assert.deepEqual(repeat.json(), {
        provider: 'github',
        event: 'push',
        ref: null,
        after: null,
        duplicate: true,
        message: 'duplicate delivery',
        delivery: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      });
    }
    await sleep(300);
    assert.equal(counting.fetches - before, 1, 'one fetch for three sends of one delivery');
  });

  it('knows GitLab’s X-Gitlab-Event-UUID and Gitea’s X-Gitea-Delivery as delivery ids', async (t) => {
    const { api } = await watched(t);
    const body = pushTo('refs/heads/main');
    const gitea = { 'content-type': 'application/json', 'x-gitea-event': 'push', 'x-gitea-signature': createHmac('sha256', secret).update(body).digest('hex') };
    for (const headers of [
      { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': secret, 'x-gitlab-event-uuid': '6a0c4b3e-0e0f-4b0d-9d59-2a3f0b7c9e11' },
      { ...gitea, 'x-gitea-delivery': 'b2a9a3f1-7c41-4c5f-a1b6-7f3f3e2d9c10' },
    ]) {
      const first = await api.inject({ method: 'POST', url: path, headers, payload: body });
      assert.deepEqual([first.statusCode, first.json().fetching], [202, true], first.body);
      const repeat = await api.inject({ method: 'POST', url: path, headers, payload: body });
      assert.deepEqual([repeat.statusCode, repeat.json().duplicate, repeat.json().fetching], [202, true, undefined], repeat.body);
    }
  });

  it('processes a redelivery whose first attempt was not answered 2xx (a bad signature, a bad body)', async (t) => {
    const { api, counting } = await watched(t);
    const body = pushTo('refs/heads/main');
    const id = { 'x-github-delivery': 'e1f5b0a4-1d1c-4f9e-8c53-0c1a9f6c2b77' };
    const forged = await api.inject({ method: 'POST', url: path, headers: { ...github(body, 'wrong-secret'), ...id }, payload: body });
    assert.equal(forged.statusCode, 401);
    const garbled = await api.inject({ method: 'POST', url: path, headers: { ...github('not json'), ...id }, payload: 'not json' });
    assert.equal(garbled.statusCode, 400);
    const before = counting.fetches;
    const redelivered = await api.inject({ method: 'POST', url: path, headers: { ...github(body), ...id }, payload: body });
    assert.deepEqual([redelivered.statusCode, redelivered.json().fetching, redelivered.json().duplicate], [202, true, undefined], redelivered.body);
    await waitFor('the redelivered push to be fetched', () => counting.fetches > before, 2000, 5);
    const again = await api.inject({ method: 'POST', url: path, headers: { ...github(body), ...id }, payload: body });
    assert.equal(again.json().duplicate, true, 'answered 2xx once, it is a duplicate from then on');
  });

  it('answers 404 with a clear message when repository.webhookSecretFile is not set', async (t) => {
    const repo = await fleetRepo(t);
    const { api } = await makeWatchedFleet(t, scratch(t), { url: repo.origin });
    const body = pushTo('refs/heads/main');
    const reply = await api.inject({ method: 'POST', url: path, headers: github(body), payload: body });
    assert.equal(reply.statusCode, 404);
    assert.match(reply.json().error, /webhooks are off: set repository\.webhookSecretFile/);
  });

  it('coalesces a burst of pushes into one fetch now and at most one after it, ending at the newest tip', async (t) => {
    const { repo, api, fleet, counting } = await watched(t);
    const before = counting.fetches;
    const body = pushTo('refs/heads/main');
    let newest = '';
    for (let i = 0; i < 10; i++) newest = await repo.commit({ [`burst-${i}.yml`]: `${i}\n` }, `burst ${i}`);
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => api.inject({ method: 'POST', url: path, headers: github(body), payload: body })),
    );
    assert.deepEqual(new Set(replies.map((reply) => reply.statusCode)), new Set([202]));
    await waitFor('the newest pushed commit', () => fleet.sourceView()?.sha === newest, 2000, 5);
    await sleep(300);
    const fetches = counting.fetches - before;
    assert.ok(fetches >= 1 && fetches <= 2, `${fetches} fetches for 10 deliveries`);
  });
});

describe('GET /api/v1/source', () => {
  it('shows the URL, branch, commit, fetch times, error and the history of tips seen', async (t) => {
    const { repo, api, fleet } = await watched(t);
    const first = repo.head();
    const second = await repo.commit({ 'x.yml': 'x\n' }, 'second commit');
    await fleet.fetchNow();

    const view = (await api.inject({ method: 'GET', url: '/api/v1/source' })).json();

    assert.equal(view.url, repo.origin);
    assert.equal(view.branch, 'main');
    assert.equal(view.revision, undefined);
    assert.equal(view.sha, second);
    assert.equal(view.subject, 'second commit');
    assert.equal(view.author, 'fleetcd test <test@fleetcd.invalid>');
    assert.match(view.committedAt, /Z$/);
    assert.match(view.lastFetchAt, /Z$/);
    assert.equal(view.lastError, null);
    assert.deepEqual(
      view.history.map((h: { sha: string; status: string }) => [h.sha, h.status]),
      [
        [second, 'accepted'],
        [first, 'accepted'],
      ],
    );
    const limited = (await api.inject({ method: 'GET', url: '/api/v1/source?limit=1' })).json();
    assert.equal(limited.history.length, 1);
    assert.equal((await api.inject({ method: 'GET', url: '/api/v1/source?limit=501' })).statusCode, 400);
  });

  it('shows a pinned revision instead of a branch, and a fetch error while keeping the commit in use', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    git(repo.work, 'tag', 'v1');
    git(repo.work, 'push', '-q', 'origin', 'v1');
    const pinned = await makeWatchedFleet(t, dir, { url: repo.origin, revision: 'v1' });
    const view = (await pinned.api.inject({ method: 'GET', url: '/api/v1/source' })).json();
    assert.equal(view.revision, 'v1');
    assert.equal(view.branch, undefined);
    assert.equal(view.sha, repo.head());

    const other = await makeWatchedFleet(t, scratch(t), { url: repo.origin, branch: 'gone' });
    const failing = (await other.api.inject({ method: 'GET', url: '/api/v1/source' })).json();
    assert.equal(failing.sha, null);
    assert.match(failing.lastError, /branch gone does not exist/);
    assert.deepEqual(failing.history, []);
  });
});
