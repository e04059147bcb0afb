import assert from 'node:assert/strict';
import { mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { buildApi } from '../../src/api/server.js';
import { targetStatuses } from '../../src/reconcile/status.js';
import { localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { sleep } from '../helpers/wait.js';
import { fleetRepo, makeWatchedFleet, scratch } from '../source/support.js';
import { samplesOf, scrape, sampleValue, type Exposition } from './exposition.js';

const site = playbook(`
    - name: sandbox
      ansible.builtin.file: { path: "{{ host_root }}", state: directory }
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "v1\\n" }
    - name: reload app
      ansible.builtin.command: /bin/true
`);

const targets = {
  web: ['web1', 'web2'],
  db: ['db1'],
  flaky: ['fl1'],
  broken: ['br1'],
} as const;

/** The one series of `target` whose status gauge is 1, checking the others are 0. */
function currentStatus(scraped: Exposition, target: string): string {
  const series = samplesOf(scraped, 'fleetcd_target_status', { target });
  assert.deepEqual(series.map((s) => s.labels.status).sort(), [...targetStatuses].sort(), `every status of ${target} is served`);
  const current = series.filter((s) => s.value === 1);
  assert.equal(current.length, 1, `exactly one status of ${target} is 1`);
  assert.ok(series.every((s) => s.value === 0 || s.value === 1));
  return current[0]!.labels.status!;
}

describe('GET /metrics of a fleet that found drift, applied, and failed', () => {
  let f: TestFleet;
  let sandboxes: string;
  let idle: Exposition;
  const busiest = { queued: 0, running: 0 };

  before(async () => {
    sandboxes = tempDir('fleetcd-metrics-');
    const files: Record<string, string> = {
      'playbooks/site.yml': site,
      'playbooks/stamp.yml': playbook(`
    - name: stamp that changes every run
      ansible.builtin.copy: { dest: "{{ host_root }}/stamp", content: "{{ 1000000000 | random }}\\n" }
`),
      'playbooks/broken.yml': playbook(`
    - name: refuse
      ansible.builtin.fail: { msg: "this target is broken on purpose" }
`),
    };
    for (const [target, hosts] of Object.entries(targets)) {
      files[`inventories/${target}.yml`] = localInventory(join(sandboxes, target), [...hosts]);
      for (const host of hosts) mkdirSync(join(sandboxes, target, host), { recursive: true });
    }
    f = await makeFleet(files, {
      config: {
        reconcile: { mode: 'detect', concurrency: 2 },
        targets: { db: { mode: 'apply' }, flaky: { mode: 'apply', playbook: 'playbooks/stamp.yml' }, broken: { playbook: 'playbooks/broken.yml' } },
      },
    });
  });

  after(async () => {
    await f?.cleanup();
    removeDir(sandboxes);
  });

  test("before any run every target is unknown and its run series are served at 0, so increase() sees the first failure", async () => {
    const scraped = await scrape(f.api);
    for (const target of Object.keys(targets)) {
      assert.equal(currentStatus(scraped, target), 'unknown');
      for (const kind of ['check', 'apply']) {
        for (const status of ['succeeded', 'failed', 'timed-out', 'cancelled', 'interrupted']) {
          assert.equal(sampleValue(scraped, 'fleetcd_runs_total', { target, kind, status }), 0, `${target} ${kind} ${status}`);
        }
        assert.equal(sampleValue(scraped, 'fleetcd_run_duration_seconds_count', { target, kind }), 0);
      }
    }
    assert.equal(samplesOf(scraped, 'fleetcd_runs_total', { status: 'queued' }).length, 0, 'a run that has not ended is not counted');
  });

  test('runs are counted by target, kind and final status, each ended run in the duration histogram', async () => {
    f.fleet.reconcile(undefined, { trigger: 'api' });
    // Scrape while the runs go: four targets and two slots, so some ansible-playbook processes wait for one.
    let done = false;
    const finished = f.fleet.reconciler.idle().then(() => {
      done = true;
    });
    while (!done) {
      const during = await scrape(f.api);
      busiest.queued = Math.max(busiest.queued, sampleValue(during, 'fleetcd_queue_depth') ?? 0);
      busiest.running = Math.max(busiest.running, sampleValue(during, 'fleetcd_running_runs') ?? 0);
      await Promise.race([finished, sleep(25)]);
    }
    idle = await scrape(f.api);

    const counted = Object.fromEntries(
      samplesOf(idle, 'fleetcd_runs_total')
        .filter((s) => s.value > 0)
        .map((s) => [`${s.labels.target} ${s.labels.kind} ${s.labels.status}`, s.value]),
    );
    assert.deepEqual(counted, {
      'web check succeeded': 1,
      // A new revision in apply mode: the apply without a precheck, then its verify check.
      'db check succeeded': 1,
      'db apply succeeded': 1,
      'flaky check succeeded': 1,
      'flaky apply succeeded': 1,
      'broken check failed': 1,
    });
    assert.equal(sampleValue(idle, 'fleetcd_run_duration_seconds_count', { target: 'db', kind: 'check' }), 1);
    assert.equal(sampleValue(idle, 'fleetcd_run_duration_seconds_count', { target: 'db', kind: 'apply' }), 1);
    assert.equal(sampleValue(idle, 'fleetcd_run_duration_seconds_count', { target: 'web', kind: 'apply' }), 0);
    const sum = sampleValue(idle, 'fleetcd_run_duration_seconds_sum', { target: 'db', kind: 'apply' })!;
    assert.ok(sum > 0 && sum < 120, `an apply of one local host took ${sum} s`);
    assert.equal(sampleValue(idle, 'fleetcd_run_duration_seconds_bucket', { target: 'db', kind: 'check', le: '+Inf' }), 1);
  });

  test("each target's status, drifted hosts, unverified and non-idempotent tasks are read from the fleet", () => {
    assert.ok(idle, 'the runs test ran first');
    assert.equal(currentStatus(idle, 'web'), 'drifted');
    assert.equal(currentStatus(idle, 'db'), 'in-sync');
    assert.equal(currentStatus(idle, 'flaky'), 'drifted', 'the verify check still changed the stamp');
    assert.equal(currentStatus(idle, 'broken'), 'failed');
    const gauge = (name: string, target: string) => sampleValue(idle, name, { target });
    assert.equal(gauge('fleetcd_target_drifted_hosts', 'web'), 2);
    assert.equal(gauge('fleetcd_target_drifted_hosts', 'db'), 0);
    assert.equal(gauge('fleetcd_target_drifted_hosts', 'flaky'), 1);
    assert.equal(gauge('fleetcd_target_hosts', 'web'), 2);
    assert.equal(gauge('fleetcd_target_failed_hosts', 'broken'), 1);
    assert.equal(gauge('fleetcd_target_unreachable_hosts', 'web'), 0);
    assert.equal(gauge('fleetcd_target_unverified_tasks', 'web'), 1, 'the command task is skipped in check mode');
    assert.equal(gauge('fleetcd_target_unverified_tasks', 'db'), 1);
    assert.equal(gauge('fleetcd_target_non_idempotent_tasks', 'flaky'), 1);
    assert.equal(gauge('fleetcd_target_non_idempotent_tasks', 'db'), 0);
    assert.equal(gauge('fleetcd_target_suspended', 'web'), 0);
  });

  test('the queue depth and the running runs are 0 when idle, and counted while runs waited for a slot', () => {
    assert.ok(idle, 'the runs test ran first');
    assert.equal(sampleValue(idle, 'fleetcd_queue_depth'), 0);
    assert.equal(sampleValue(idle, 'fleetcd_running_runs'), 0);
    assert.ok(busiest.running >= 1 && busiest.running <= 2, `at most reconcile.concurrency run: saw ${busiest.running}`);
    assert.ok(busiest.queued >= 1, `four checks for two slots: saw ${busiest.queued} waiting`);
  });

  test("a fleet on a fixed revision serves that revision, no fetch (time 0), no fetch errors, and Node's process metrics", async () => {
    const scraped = await scrape(f.api);
    assert.equal(sampleValue(scraped, 'fleetcd_source_revision_info', { sha: f.revision!.sha, branch: 'main' }), 1);
    assert.equal(samplesOf(scraped, 'fleetcd_source_revision_info').length, 1);
    assert.equal(sampleValue(scraped, 'fleetcd_source_last_fetch_success_timestamp_seconds'), 0, 'never fetched');
    assert.equal(sampleValue(scraped, 'fleetcd_source_fetch_errors_total'), 0);
    assert.ok((sampleValue(scraped, 'process_cpu_user_seconds_total') ?? 0) > 0);
    assert.ok((sampleValue(scraped, 'process_resident_memory_bytes') ?? 0) > 0);
    assert.ok(samplesOf(scraped, 'nodejs_eventloop_lag_seconds').length > 0);
  });

  test('/metrics needs no token when every GET of the API does; a second API over the fleet has its own registry', async (t) => {
    const api = buildApi({ fleet: f.fleet, log: pino({ enabled: false }), tokens: () => [], requireReadToken: () => true });
    t.after(() => api.close());
    assert.equal((await api.inject({ method: 'GET', url: '/api/v1/status' })).statusCode, 401);
    const scraped = await scrape(api);
    assert.equal(currentStatus(scraped, 'db'), 'in-sync');
    assert.equal(sampleValue(scraped, 'fleetcd_runs_total', { target: 'db', kind: 'apply', status: 'succeeded' }), 0, 'its counters started with it');
  });
});

describe('source metrics of a watched fleet', () => {
  test('the revision in use, the last successful fetch and failed fetches follow the fetches', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t, 'fleetcd-metrics-source-');
    const startedAt = Date.now() / 1000;
    const f = await makeWatchedFleet(t, dir, { url: repo.origin, branch: 'main' });

    const first = await scrape(f.api);
    assert.equal(sampleValue(first, 'fleetcd_source_revision_info', { sha: repo.head(), branch: 'main' }), 1);
    const fetchedAt = sampleValue(first, 'fleetcd_source_last_fetch_success_timestamp_seconds')!;
    assert.ok(fetchedAt >= Math.floor(startedAt) && fetchedAt <= Date.now() / 1000, `the first fetch at ${fetchedAt}`);
    assert.equal(sampleValue(first, 'fleetcd_source_fetch_errors_total'), 0);

    // The remote gone: a failed fetch is counted and the last success stays where it was.
    const moved = `${repo.origin}.away`;
    renameSync(repo.origin, moved);
    try {
      await f.fleet.fetchNow();
    } finally {
      renameSync(moved, repo.origin);
    }
    const failed = await scrape(f.api);
    assert.equal(sampleValue(failed, 'fleetcd_source_fetch_errors_total'), 1);
    assert.equal(sampleValue(failed, 'fleetcd_source_last_fetch_success_timestamp_seconds'), fetchedAt);

    const sha = await repo.commit({ 'NEWS.md': 'second\n' }, 'second');
    await f.fleet.fetchNow();
    const moved2 = await scrape(f.api);
    assert.deepEqual(
      samplesOf(moved2, 'fleetcd_source_revision_info').map((s) => [s.labels.sha, s.labels.branch, s.value]),
      [[sha, 'main', 1]],
      'only the revision in use is served',
    );
    assert.ok(sampleValue(moved2, 'fleetcd_source_last_fetch_success_timestamp_seconds')! > fetchedAt);
  });
});
