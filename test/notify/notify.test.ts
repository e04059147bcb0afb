import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { buildApi } from '../../src/api/server.js';
import type { NotificationList } from '../../src/api/notifications.js';
import { Notifier, type Delivery } from '../../src/notify/index.js';
import { postOnce } from '../../src/notify/send.js';
import { FleetEvents } from '../../src/reconcile/events.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { startReceivers, type Receivers } from './receivers.js';

/*
 * Notifications against real HTTP receivers on loopback (one that answers, one that is down, one that hangs),
 * driven by a real fleet's events: real ansible-playbook runs over local-connection hosts.
 */

const secret = `s3cret-${randomBytes(8).toString('hex')}`;
const allEvents = ['drift', 'failed', 'recovered', 'applied', 'source-error'];
/** Short enough for a test, long enough that "still retrying" outlasts a reconcile's end by far. */
const policy = { timeoutMs: 1_000, attempts: 3, firstBackoffMs: 1_000, maxWaiting: 100 };
const motd = playbook(`
    - name: message of the day
      ansible.builtin.copy: { dest: "{{ host_root }}/motd", content: "managed by fleetcd\\n" }
`);

const of = (notifier: Notifier, name: string): Delivery[] => notifier.recent(500).filter((d) => d.notification === name);

describe('notifications from a real fleet to real receivers', { timeout: 180_000 }, () => {
  let f: TestFleet;
  let r: Receivers;
  let notifier: Notifier;
  let dir: string;
  let logFile: string;
  const base = 'https://fleetcd.example.test';

  before(async () => {
    dir = tempDir('fleetcd-notify-');
    for (const host of ['web1', 'web2']) mkdirSync(join(dir, 'hosts', host), { recursive: true });
    const secretFile = join(dir, 'hook-secret');
    writeFileSync(secretFile, `X-Fleetcd-Secret: ${secret}\n`, { mode: 0o600 });
    r = await startReceivers();
    f = await makeFleet(
      { 'playbooks/site.yml': motd, 'inventories/web.yml': localInventory(join(dir, 'hosts'), ['web1', 'web2']) },
      {
        config: {
          api: { publicUrl: `${base}/` },
          notifications: [
            { name: 'hooks', url: r.answering.url('/json'), events: allEvents, format: 'json', secretHeaderFile: secretFile },
            { name: 'chat', url: r.answering.url('/slack'), events: ['drift', 'recovered', 'applied'], format: 'slack' },
            { name: 'down', url: r.down.url('/hook'), events: allEvents, secretHeaderFile: secretFile },
            { name: 'stuck', url: r.hanging.url('/hook'), events: allEvents, secretHeaderFile: secretFile },
          ],
        },
      },
    );
    logFile = join(dir, 'notify.log');
    const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
    notifier = new Notifier(f.config, { db: f.db, log, fleet: f.fleet, policy });
    notifier.watch(f.fleet.changes);
  });

  after(async () => {
    notifier?.stop();
    await f?.cleanup();
    await r?.close();
    removeDir(dir);
  });

  let driftRun: number;

  test('drift sends one delivery per receiver at once: json with the run and its link, while the others still retry', async () => {
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    const [check] = await f.chain(id);
    driftRun = check!.id;
    assert.equal(check!.summary.changed, 2);
    // The reconcile is over; the hanging and the down receiver are still being tried (not blocked on them).
    assert.equal(of(notifier, 'stuck')[0]?.status, 'pending');
    assert.equal(of(notifier, 'down')[0]?.status, 'pending');

    const [got] = await waitFor('the json delivery', () => r.answering.at('/json').length > 0 && r.answering.at('/json'), 10_000, 20);
    assert.equal(of(notifier, 'stuck')[0]?.status, 'pending', 'delivered while the hanging receiver still hangs');
    assert.equal(r.answering.at('/json').length, 1);
    assert.equal(got!.headers['content-type'], 'application/json');
    assert.equal(got!.headers['x-fleetcd-secret'], secret, 'the secret header arrives');
    const body = got!.json;
    assert.ok(typeof body.at === 'string' && !Number.isNaN(Date.parse(body.at)));
    assert.deepEqual(
      { ...body, at: undefined },
      {
        event: 'drift',
        at: undefined,
        target: 'web',
        status: 'drifted',
        problem: 'drift in message of the day',
        run: { id: driftRun, kind: 'check', revision: check!.revision, summary: check!.summary },
        url: `${base}/#/runs/${driftRun}`,
      },
    );
    const delivered = await waitFor('the record of it', () => of(notifier, 'hooks').find((d) => d.status === 'delivered'), 5_000, 20);
    assert.deepEqual(
      { ...delivered, id: 0, createdAt: '', attemptedAt: '' },
      {
        id: 0,
        notification: 'hooks',
        event: 'drift',
        target: 'web',
        runId: driftRun,
        summary: `web drifted: 2 hosts would change (check run #${driftRun})`,
        createdAt: '',
        attemptedAt: '',
        attempts: 1,
        status: 'delivered',
        httpStatus: 200,
        error: null,
      },
    );
  });

  test('slack gets the one-line text with a link; no secret header when none is configured', async () => {
    const [got] = await waitFor('the slack delivery', () => r.answering.at('/slack').length > 0 && r.answering.at('/slack'), 10_000, 20);
    assert.deepEqual(got!.json, { text: `*web* drifted: 2 hosts would change (check run #${driftRun}) — drift in message of the day <${base}/#/runs/${driftRun}|open>` });
    assert.equal(got!.headers['x-fleetcd-secret'], undefined);
  });

  test('the same drift found again sends nothing', async () => {
    const before = notifier.recent(500).length;
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    const [check] = await f.chain(id);
    assert.equal(check!.summary.changed, 2);
    assert.equal(notifier.recent(500).length, before, 'no delivery recorded');
    await sleep(300);
    assert.equal(r.answering.at('/json').length, 1);
    assert.equal(r.answering.at('/slack').length, 1);
  });

  test('an apply that heals the drift sends applied, and recovered only once its verify check found the target in sync', async () => {
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'apply' })[0]!;
    const runs = await f.chain(id);
    const [apply, verify] = [runs.find((run) => run.kind === 'apply')!, runs.at(-1)!];
    assert.equal(apply.status, 'succeeded');
    assert.equal(verify.kind, 'check');
    assert.equal(f.fleet.target('web').status, 'in-sync');
    const json = await waitFor('two more json deliveries', () => r.answering.at('/json').length === 3 && r.answering.at('/json').slice(1), 10_000, 20);
    assert.deepEqual(json.map((g) => [g.json.event, (g.json.run as { id: number }).id, g.json.status, g.json.problem]).sort(), [
      ['applied', apply.id, 'in-sync', null],
      ['recovered', verify.id, 'in-sync', null],
    ]);
    const recovered = json.find((g) => g.json.event === 'recovered')!;
    assert.ok(Date.parse(String(recovered.json.at)) >= Date.parse(verify.finishedAt!), `told at ${String(recovered.json.at)}, verify ended ${verify.finishedAt}`);
    assert.ok(recovered.receivedAt >= Date.parse(verify.finishedAt!));
    const slack = await waitFor('two more slack deliveries', () => r.answering.at('/slack').length === 3 && r.answering.at('/slack').slice(1), 10_000, 20);
    assert.deepEqual(slack.map((g) => g.json.text).sort(), [
      `*web* applied 2 changes on 2 hosts (apply run #${apply.id}) <${base}/#/runs/${apply.id}|open>`,
      `*web* is back in sync (check run #${verify.id}) <${base}/#/runs/${verify.id}|open>`,
    ]);
  });

  test('a receiver that is down: every delivery fails after its attempts, each recorded with the error', async () => {
    const down = await waitFor('the down deliveries to give up', () => {
      const list = of(notifier, 'down');
      return list.length === 3 && list.every((d) => d.status === 'failed') && list;
    }, 20_000, 50);
    for (const delivery of down) {
      assert.equal(delivery.attempts, policy.attempts);
      assert.equal(delivery.httpStatus, null);
      assert.match(delivery.error ?? '', /ECONNREFUSED 127\.0\.0\.1:\d+/);
    }
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.includes('notification attempt failed') && l.includes('"notification":"down"'));
    assert.equal(lines.length, 3 * policy.attempts, 'a log line per attempt');
    assert.match(lines[0]!, new RegExp(`"event":"drift","target":"web","runId":${driftRun}`));
  });

  test('a hanging receiver: each attempt times out and is recorded; the others were delivered meanwhile', async () => {
    const first = await waitFor('the hanging delivery to give up', () => of(notifier, 'stuck').find((d) => d.event === 'drift' && d.status === 'failed'), 20_000, 50);
    assert.equal(first.attempts, policy.attempts);
    assert.equal(first.error, 'no answer within 1s');
    const attempts = r.hanging.requests.slice(0, policy.attempts);
    assert.deepEqual(attempts.map((a) => a.json.event), ['drift', 'drift', 'drift'], 'every attempt reached the receiver');
    assert.equal(attempts[0]!.headers['x-fleetcd-secret'], secret);
  });

  test('GET /api/v1/notifications lists the deliveries, newest first, with no URL and no secret', async (t) => {
    const api = buildApi({ fleet: f.fleet, log: pino({ level: 'silent' }), tokens: () => [], notifications: notifier, checkResponses: true });
    t.after(() => api.close());
    const response = await api.inject({ method: 'GET', url: '/api/v1/notifications?limit=3' });
    assert.equal(response.statusCode, 200, response.body);
    const list = response.json() as NotificationList;
    assert.equal(list.notifications.length, 3);
    assert.deepEqual(list.notifications, notifier.recent(3));
    assert.ok(list.notifications[0]!.id > list.notifications[2]!.id);
    const all = (await api.inject({ method: 'GET', url: '/api/v1/notifications?limit=500' })).body;
    for (const hidden of [secret, r.answering.url('/json'), r.hanging.url('/hook')]) assert.ok(!all.includes(hidden), `the API shows no ${hidden}`);
    assert.equal((await api.inject({ method: 'GET', url: '/api/v1/notifications?limit=0' })).statusCode, 400);
  });

  test('the secret header value is in no log line and no database row', () => {
    notifier.stop();
    for (const file of [logFile, f.logFile]) assert.ok(!readFileSync(file, 'utf8').includes(secret), `not in ${file}`);
    const rows = JSON.stringify(f.db.prepare('SELECT * FROM notification_deliveries').all());
    assert.ok(!rows.includes(secret));
    f.db.pragma('wal_checkpoint(TRUNCATE)');
    assert.ok(!readFileSync(join(f.stateDir, 'fleetcd.db')).includes(secret), 'nowhere in the database file');
  });

  test('a stop records what was in flight or waiting as abandoned', () => {
    const stuck = of(notifier, 'stuck');
    assert.equal(stuck.length, 3);
    assert.ok(stuck.every((d) => d.status === 'failed'));
    // The newest waits behind two deliveries of 6 s each (3 timeouts, backoff 1 s + 2 s): the stop found it queued.
    assert.equal(stuck[0]!.error, 'abandoned: fleetcd stopped');
    assert.ok(!notifier.recent(500).some((d) => d.status === 'pending'));
  });

  test('retention removes deliveries older than retention.maxAge in the pruner’s pass', async () => {
    const old = f.db.prepare(`UPDATE notification_deliveries SET created_at = ? WHERE id = ?`);
    const [newest, oldest] = [notifier.recent(500)[0]!, notifier.recent(500).at(-1)!];
    old.run(new Date(Date.now() - 40 * 86_400_000).toISOString(), oldest.id);
    f.fleet.pruner.alsoPrune((cutoff) => notifier.prune(cutoff));
    await f.fleet.pruner.prune();
    const ids = notifier.recent(500).map((d) => d.id);
    assert.ok(!ids.includes(oldest.id), 'the 40-day-old delivery went');
    assert.ok(ids.includes(newest.id));
  });
});

describe('queue limits and reconfiguration', () => {
  test('a full queue drops its oldest waiting delivery; a removed receiver and a stop abandon theirs, all recorded', async (t) => {
    const r = await startReceivers();
    const f = await makeFleet({ 'playbooks/site.yml': motd, 'inventories/web.yml': localInventory('/nonexistent', ['web1']) }, {
      config: {
        notifications: [
          { name: 'a', url: r.hanging.url('/a'), events: ['failed'] },
          { name: 'b', url: r.hanging.url('/b'), events: ['failed'] },
        ],
      },
    });
    t.after(async () => {
      await f.cleanup();
      await r.close();
    });
    const events = new FleetEvents(() => undefined);
    const notifier = new Notifier(f.config, { db: f.db, log: pino({ level: 'silent' }), fleet: f.fleet, policy: { ...policy, timeoutMs: 60_000, maxWaiting: 1 } });
    notifier.watch(events);
    const run = f.store.get(f.store.create({ target: 'web', kind: 'check', trigger: 'api', revision: 'c'.repeat(40) }))!;
    for (let i = 0; i < 3; i++) events.emit('run-finished', { run, before: 'in-sync', after: 'failed', settled: { before: 'in-sync', after: 'failed' } });
    const state = (name: string) => of(notifier, name).reverse().map((d) => [d.status, d.error]);
    assert.deepEqual(state('a'), [['pending', null], ['failed', 'dropped: queue full'], ['pending', null]]);
    await waitFor('the first attempts to reach the receiver', () => r.hanging.requests.length === 2, 5_000, 20);

    notifier.reconfigure({ ...f.config, notifications: f.config.notifications.filter((n) => n.name === 'b') });
    const removed = ['abandoned: notification removed from the config', 'dropped: queue full', 'abandoned: notification removed from the config'];
    assert.deepEqual(state('a').map(([, error]) => error), removed);
    notifier.stop();
    assert.deepEqual(state('b').map(([, error]) => error), ['abandoned: fleetcd stopped', 'dropped: queue full', 'abandoned: fleetcd stopped']);
    assert.ok(!notifier.recent(50).some((d) => d.status === 'pending'));

    // A delivery a killed daemon left pending is given up by the next one, not sent late.
    const leftover = of(notifier, 'b')[0]!.id;
    f.db.prepare(`UPDATE notification_deliveries SET status = 'pending', error = NULL WHERE id = ?`).run(leftover);
    const next = new Notifier(f.config, { db: f.db, log: pino({ level: 'silent' }), fleet: f.fleet, policy });
    next.stop();
    assert.deepEqual(state('b')[2], ['failed', 'abandoned: fleetcd stopped before delivering it']);
  });

  test('an answer that echoes the secret is recorded with the secret redacted', async (t) => {
    const { createServer } = await import('node:http');
    const server = createServer((request, response) => {
      response.writeHead(500).end(`bad request with header ${request.headers['x-token']}`);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    t.after(() => server.close());
    const port = (server.address() as { port: number }).port;
    const outcome = await postOnce({
      url: `http://127.0.0.1:${port}/hook`,
      body: '{}',
      headers: { 'x-token': secret },
      timeoutMs: 5_000,
      signal: new AbortController().signal,
      redact: [secret],
    });
    assert.deepEqual(outcome, { ok: false, httpStatus: 500, error: 'HTTP 500: bad request with header [redacted]', retryable: true });
  });
});

describe('source-error from a real source', { timeout: 60_000 }, () => {
  test('fires once when fetches start failing, and again only after the source worked in between', async (t) => {
    const r = await startReceivers();
    const repo: FleetRepo = await createFleetRepo({ 'playbooks/site.yml': motd });
    const f = await makeFleet(undefined, {
      repository: { url: repo.origin },
      config: { notifications: [{ name: 'ops', url: r.answering.url('/source'), events: ['source-error'] }] },
    });
    const notifier = new Notifier(f.config, { db: f.db, log: pino({ level: 'silent' }), fleet: f.fleet, policy });
    notifier.watch(f.fleet.changes);
    t.after(async () => {
      notifier.stop();
      await f.cleanup();
      await r.close();
      repo.cleanup();
    });
    const moved = `${repo.origin}.away`;
    renameSync(repo.origin, moved);
    await f.fleet.fetchNow();
    await f.fleet.fetchNow();
    await f.fleet.fetchNow();
    const [got] = await waitFor('the source-error delivery', () => r.answering.at('/source').length > 0 && r.answering.at('/source'), 10_000, 20);
    assert.equal(got!.json.event, 'source-error');
    assert.equal(got!.json.target, null);
    assert.equal(got!.json.run, null);
    assert.equal(got!.json.url, 'http://127.0.0.1:9110/#/source');
    assert.equal(got!.json.problem, f.fleet.status().source.error);
    assert.equal(of(notifier, 'ops').length, 1, 'three failed fetches, one notification');

    renameSync(moved, repo.origin);
    await f.fleet.fetchNow();
    assert.equal(f.fleet.status().source.error, null);
    renameSync(repo.origin, moved);
    await f.fleet.fetchNow();
    renameSync(moved, repo.origin);
    assert.equal(of(notifier, 'ops').length, 2, 'failing again after a good fetch is news again');
  });
});

describe('notifications of a running daemon', { timeout: 180_000 }, () => {
  let d: RunningDaemon;
  let r: Receivers;
  let dir: string;
  let config: (extra?: string) => string;

  before(async () => {
    dir = tempDir('fleetcd-notify-daemon-');
    mkdirSync(join(dir, 'hosts', 'app1'), { recursive: true });
    const secretFile = join(dir, 'hook-secret');
    writeFileSync(secretFile, `X-Fleetcd-Secret: ${secret}\n`, { mode: 0o600 });
    r = await startReceivers();
    config = (extra = '') =>
      [
        'reconcile: { mode: detect, interval: 1h }',
        'notifications:',
        `  - { name: hooks, url: "${r.answering.url('/daemon')}", events: [drift, failed, recovered], secretHeaderFile: ${JSON.stringify(secretFile)} }`,
        extra,
      ].join('\n');
    d = await startDaemonFleet({ 'playbooks/site.yml': motd, 'inventories/app.yml': localInventory(join(dir, 'hosts'), ['app1']) }, config());
  });

  after(async () => {
    await d?.cleanup();
    await r?.close();
    removeDir(dir);
  });

  test('the start-up check’s drift is delivered and GET /api/v1/notifications shows it', async () => {
    const [got] = await waitFor('the drift delivery', () => r.answering.at('/daemon').length > 0 && r.answering.at('/daemon'), 60_000, 100);
    assert.equal(got!.json.event, 'drift');
    assert.equal(got!.json.target, 'app');
    assert.equal(got!.headers['x-fleetcd-secret'], secret);
    assert.match(String(got!.json.url), new RegExp(`^${d.base}/#/runs/\\d+$`), 'linked at api.listen without a publicUrl');
    const list = await waitFor('the recorded delivery', async () => {
      const answer = await d.get<NotificationList>('/api/v1/notifications');
      return answer.notifications[0]?.status === 'delivered' && answer.notifications;
    }, 10_000, 100);
    assert.equal(list[0]!.notification, 'hooks');
    assert.equal(list[0]!.runId, (got!.json.run as { id: number }).id);
  });

  test('after SIGHUP a new receiver gets the events it asks for', async () => {
    const before = await d.status();
    d.writeConfig(config(`  - { name: chat, url: "${r.answering.url('/daemon-slack')}", events: [applied], format: slack }`));
    d.process.child.kill('SIGHUP');
    await waitFor('the reload', async () => (await d.status()).config.loadedAt !== before.config.loadedAt, 10_000, 100);
    const { runs } = await d.reconcile({ targets: ['app'], mode: 'apply' });
    await d.chain(runs[0]!.id);
    const [got] = await waitFor('the slack delivery', () => r.answering.at('/daemon-slack').length > 0 && r.answering.at('/daemon-slack'), 10_000, 100);
    assert.match(String(got!.json.text), /^\*app\* applied 1 change on 1 host \(apply run #\d+\) <http:\/\/127\.0\.0\.1:\d+\/#\/runs\/\d+\|open>$/);
    await waitFor('recovered at the old receiver', () => r.answering.at('/daemon').some((g) => g.json.event === 'recovered'), 10_000, 100);
  });

  test('the daemon’s log names each delivery and never holds the secret; neither does the API', async () => {
    const output = d.process.output();
    assert.match(output, /"notification":"hooks","event":"drift","target":"app","runId":\d+.*"notification delivered"/);
    assert.ok(!output.includes(secret));
    const answer = await fetch(`${d.base}/api/v1/notifications?limit=500`);
    assert.ok(!(await answer.text()).includes(secret));
  });
});
