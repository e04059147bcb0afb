import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { QueuedRuns, RunList, TargetDetail } from '../../src/api/schemas.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { sleep, waitFor } from '../helpers/wait.js';

/*
 * The operator's controls over a real daemon: coalescing, suspend and resume (across a restart, with commits
 * landing meanwhile), rollback and its hold, and an apply refused or forced outside the apply windows.
 */

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "version {{ version }}\\n" }
`;

function inventory(root: string, version: string, hosts = ['web1', 'web2']): string {
  const lines = ['all:', '  vars:', '    ansible_connection: local', '    ansible_python_interpreter: /usr/bin/python3', `    version: "${version}"`, '  hosts:'];
  for (const host of hosts) lines.push(`    ${host}: { host_root: ${join(root, host)} }`);
  return `${lines.join('\n')}\n`;
}

describe('operator controls on a running daemon', { timeout: 300_000 }, () => {
  let d: RunningDaemon;
  let sandboxes: string;
  let v1: string;
  let v2: string;
  const version = (host: string): string => readFileSync(join(sandboxes, host, 'app.conf'), 'utf8').trim();
  const runsOf = async (target: string): Promise<RunList['runs']> => (await d.get<RunList>(`/api/v1/runs?target=${target}&limit=500`)).runs;
  const idle = (target: string): Promise<TargetDetail> => waitFor(`${target} to be idle`, async () => {
    const t = await d.target(target);
    return t.running ? undefined : t;
  }, 90_000, 200);
  const fetched = (sha: string): Promise<unknown> => waitFor(`the daemon to fetch ${sha}`, async () => (await d.status()).revision?.sha === sha || undefined, 30_000, 200);

  before(async () => {
    sandboxes = join('/tmp', `fleetcd-controls-${process.pid}`);
    for (const host of ['web1', 'web2', 'lock1']) mkdirSync(join(sandboxes, host), { recursive: true });
    d = await startDaemonFleet(
      {
        'playbooks/site.yml': playbook,
        'inventories/web.yml': inventory(sandboxes, '1'),
        'inventories/locked.yml': inventory(sandboxes, '1', ['lock1']),
      },
      [
        'reconcile: { mode: detect, interval: 1h, concurrency: 2 }',
        'targets:',
        '  web: { mode: apply }',
        '  locked: { applyWindows: [{ cron: "0 0 1 1 *", duration: 1h }] }',
      ].join('\n'),
    );
    v1 = d.repo.head();
  });

  after(async () => {
    await d?.cleanup();
    await import('node:fs').then((fs) => fs.rmSync(sandboxes, { recursive: true, force: true }));
  });

  test('at start-up an apply-mode target applies its first revision to every host', async () => {
    const first = (await waitFor('the startup run of web', async () => (await runsOf('web')).find((r) => r.trigger === 'startup'), 30_000, 200))!;
    const chain = await d.chain(first.id);
    assert.deepEqual(chain.map((r) => r.kind), ['apply', 'check'], 'a revision never applied needs no precheck (precheck: auto)');
    assert.equal(version('web1'), 'version 1');
    await idle('locked');
  });

  test('a burst of 100 requests for one target becomes at most two check runs', async () => {
    const before = (await runsOf('web')).length;
    const answers = await Promise.all(Array.from({ length: 100 }, () => d.reconcile({ targets: ['web'], mode: 'check' })));
    const ids = new Set(answers.map((a) => a.runs[0]!.id));
    assert.ok(ids.size <= 2, `distinct runs: ${[...ids].join(', ')}`);
    await idle('web');
    assert.ok((await runsOf('web')).length - before <= 2);
  });

  test('suspend is idempotent, refuses an apply naming the reason, and queues nothing', async () => {
    const first = await d.post<TargetDetail>('/api/v1/targets/web/suspend', { reason: 'incident 42' });
    assert.equal(first.status, 200);
    assert.equal(first.body.suspended, true);
    assert.equal(first.body.suspension?.reason, 'incident 42');
    assert.equal(first.body.suspension?.by, 'api');
    const again = await d.post<TargetDetail>('/api/v1/targets/web/suspend', { reason: 'other' });
    assert.equal(again.status, 200);
    assert.deepEqual(again.body.suspension, first.body.suspension, 'a second suspend changes nothing');
    assert.match(again.body.problem ?? '', /^suspended by api at .* \(incident 42\)$/);
    const runs = (await runsOf('web')).length;
    const refused = await d.post<{ error: string }>('/api/v1/reconcile', { targets: ['web'], mode: 'apply' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error, 'target web is suspended (incident 42); resume it first');
    assert.equal((await runsOf('web')).length, runs);
  });

  test('while suspended a commit does not reconcile the target, and the suspension survives a restart', async () => {
    v2 = await d.repo.commit({ 'inventories/web.yml': inventory(sandboxes, '2') }, 'web: version 2');
    assert.equal(await d.stop(), 0);
    await d.restart();
    await fetched(v2);
    await sleep(2000);
    const web = await d.target('web');
    assert.equal(web.suspended, true);
    assert.equal(web.suspension?.reason, 'incident 42');
    assert.ok((await runsOf('web')).every((r) => r.revision !== v2), 'no run of web at the new revision');
    assert.equal(version('web1'), 'version 1');
  });

  test('an explicit reconcile of a suspended target runs a check and nothing more', async () => {
    const { runs } = await d.reconcile({ targets: ['web'] });
    const chain = await d.chain(runs[0]!.id);
    assert.deepEqual(chain.map((r) => [r.kind, r.revision]), [['check', v2]]);
    assert.equal(chain[0]!.summary.changed, 2, 'it sees the drift it may not apply');
    assert.equal(version('web1'), 'version 1');
  });

  test('resume reconciles at once, catching up with the commit', async () => {
    const resumed = await d.post<TargetDetail>('/api/v1/targets/web/resume');
    assert.equal(resumed.status, 200);
    assert.equal(resumed.body.suspended, false);
    const run = (await waitFor('the resume run', async () => (await runsOf('web')).find((r) => r.trigger === 'resume'), 10_000, 100))!;
    const chain = await d.chain(run.id);
    // v2 was never applied (the check while suspended only reported it): applied at once, then verified.
    assert.deepEqual(chain.map((r) => `${r.kind} ${r.revision.slice(0, 7)}`), [`apply ${v2.slice(0, 7)}`, `check ${v2.slice(0, 7)}`]);
    assert.equal(version('web2'), 'version 2');
  });

  test('rollback applies an earlier revision to every host and holds the target there through new commits', async () => {
    const answer = await d.post<QueuedRuns>('/api/v1/targets/web/rollback', { revision: v1.slice(0, 12), reason: 'v2 broke logins' });
    assert.equal(answer.status, 202);
    const chain = await d.chain(answer.body.runs[0]!.id);
    assert.deepEqual(chain.map((r) => [r.kind, r.trigger, r.revision]), [
      ['check', 'rollback', v1],
      ['apply', 'rollback', v1],
      ['check', 'rollback', v1],
    ]);
    assert.equal(chain[1]!.limit, null, 'every host');
    assert.equal(version('web1'), 'version 1');
    const v3 = await d.repo.commit({ 'inventories/web.yml': inventory(sandboxes, '3') }, 'web: version 3');
    await d.stop();
    await d.restart();
    await fetched(v3);
    await idle('web');
    const web = await d.target('web');
    assert.equal(web.held?.revision, v1);
    assert.equal(web.held?.reason, 'v2 broke logins');
    assert.equal(web.waiting?.reason, 'hold');
    assert.match(web.problem ?? '', /^held at [0-9a-f]{12} by api/);
    assert.ok((await runsOf('web')).every((r) => r.revision !== v3), 'a held target never runs at a newer revision');
    assert.equal(version('web1'), 'version 1');
  });

  test('rollback refuses a revision the source never accepted, and a suspended target', async () => {
    const unknown = await d.post<{ error: string }>('/api/v1/targets/web/rollback', { revision: 'deadbeefdeadbeef' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /^revision deadbeefdeadbeef was never accepted/);
    await d.post('/api/v1/targets/web/suspend', { reason: 'maintenance' });
    const suspended = await d.post<{ error: string }>('/api/v1/targets/web/rollback', { revision: v1 });
    assert.equal(suspended.status, 409);
    assert.equal(suspended.body.error, 'target web is suspended (maintenance); resume it first');
  });

  test('resume releases the hold: the target goes back to the branch tip', async () => {
    await d.post('/api/v1/targets/web/resume');
    const run = await waitFor('the second resume run', async () => {
      const resumes = (await runsOf('web')).filter((r) => r.trigger === 'resume');
      return resumes.length >= 2 ? resumes[0] : undefined;
    }, 10_000, 100);
    const chain = await d.chain(run!.id);
    assert.equal(chain.at(-1)!.revision, d.repo.head());
    assert.equal(version('web1'), 'version 3');
    const web = await d.target('web');
    assert.equal(web.held, null);
    assert.equal(web.waiting, null);
  });

  test('outside the apply windows an explicit apply is refused naming the next window, unless forced', async () => {
    const refused = await d.post<{ error: string }>('/api/v1/reconcile', { targets: ['locked'], mode: 'apply' });
    assert.equal(refused.status, 409);
    assert.match(refused.body.error, /^target locked is outside its apply windows; the next opens at \d{4}-01-01T00:00:00\.000Z \("0 0 1 1 \*" \(UTC\) for 1h\); to apply now anyway, add force \("force": true in the API, --force on the CLI\)$/);
    const forced = await d.reconcile({ targets: ['locked'], mode: 'apply', force: true });
    const chain = await d.chain(forced.runs[0]!.id);
    assert.deepEqual(chain.map((r) => r.kind), ['check', 'apply', 'check']);
    assert.equal(version('lock1'), 'version 1');
  });
});
