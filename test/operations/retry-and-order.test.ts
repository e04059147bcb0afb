import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunList, TargetDetail } from '../../src/api/schemas.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Retries of failed applies with backoff (reset by a new revision), and promotion order: a target applies a
 * revision only after the target it depends on reached it and soaked; a failure upstream holds it.
 */

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "version {{ version }}\\n" }
    - name: a step that fails when asked to
      ansible.builtin.command: /bin/false
      when: fail_it | default(false)
`;

function inventory(root: string, host: string, vars: Record<string, string | boolean>): string {
  const lines = ['all:', '  vars:', '    ansible_connection: local', '    ansible_python_interpreter: /usr/bin/python3'];
  for (const [key, value] of Object.entries(vars)) lines.push(`    ${key}: ${JSON.stringify(value)}`);
  lines.push('  hosts:', `    ${host}: { host_root: ${join(root, host)} }`);
  return `${lines.join('\n')}\n`;
}

describe('retries and promotion order on a running daemon', { timeout: 300_000 }, () => {
  let d: RunningDaemon;
  let sandboxes: string;
  const runsOf = async (target: string): Promise<RunList['runs']> => (await d.get<RunList>(`/api/v1/runs?target=${target}&limit=500`)).runs;

  before(async () => {
    sandboxes = join('/tmp', `fleetcd-order-${process.pid}`);
    for (const host of ['f1', 's1', 'p1']) mkdirSync(join(sandboxes, host), { recursive: true });
    d = await startDaemonFleet(
      {
        'playbooks/site.yml': playbook,
        'inventories/flaky.yml': inventory(sandboxes, 'f1', { version: '1', fail_it: true }),
        'inventories/staging.yml': inventory(sandboxes, 's1', { version: '1' }),
        'inventories/prod.yml': inventory(sandboxes, 'p1', { version: '1' }),
      },
      [
        'reconcile: { mode: apply, interval: 1h, concurrency: 2 }',
        'targets:',
        '  flaky: { retry: { limit: 2, initialDelay: 1s, maxDelay: 2s } }',
        '  staging: { retry: { limit: 0 } }',
        '  prod: { dependsOn: [staging], soak: 3s }',
      ].join('\n'),
    );
  });

  after(async () => {
    await d?.cleanup();
    rmSync(sandboxes, { recursive: true, force: true });
  });

  test('a failed apply is retried with backoff, at most retry.limit times at a revision', async () => {
    const flaky = await waitFor('flaky to give up', async () => {
      const t = await d.target('flaky');
      return !t.running && t.retry?.attempt === 3 ? t : undefined;
    }, 90_000, 200);
    assert.equal(flaky.retry?.nextAt, null, 'no retry planned after the limit');
    assert.equal(flaky.waiting?.reason, 'retry');
    assert.match(flaky.waiting?.detail ?? '', /^the apply failed 3 times at this revision \(retry\.limit 2\)/);
    const runs = (await runsOf('flaky')).reverse();
    const applies = runs.filter((r) => r.kind === 'apply');
    assert.deepEqual(applies.map((r) => [r.status, r.trigger]), [
      ['failed', 'startup'],
      ['failed', 'retry'],
      ['failed', 'retry'],
    ]);
    const gap = (i: number): number => Date.parse(applies[i + 1]!.startedAt!) - Date.parse(applies[i]!.finishedAt!);
    assert.ok(gap(0) >= 1000, `first retry after ${gap(0)} ms (initialDelay 1s)`);
    assert.ok(gap(1) >= 2000, `second retry after ${gap(1)} ms (doubled, up to maxDelay 2s)`);
  });

  test('a new revision resets the count: the fixed playbook applies at once', async () => {
    // The last test reads prod's promotion at the first revision: let it end before the restart drops its soak
    // wake-up (without a check before each apply, flaky's retries are over before prod's soak).
    await waitFor('prod to apply the first revision', async () => (await runsOf('prod')).some((r) => r.kind === 'apply' && r.status === 'succeeded'), 60_000, 200);
    await d.repo.commit({ 'inventories/flaky.yml': inventory(sandboxes, 'f1', { version: '2', fail_it: false }) }, 'flaky: fixed');
    await d.stop();
    await d.restart();
    const flaky = await waitFor('flaky to apply the fix', async () => {
      const t = await d.target('flaky');
      return !t.running && t.lastApplyAt && t.status === 'in-sync' && t.revision?.sha === d.repo.head() ? t : undefined;
    }, 60_000, 200);
    assert.equal(flaky.retry, null);
    assert.equal(flaky.waiting, null);
  });

  test('a dependant applies only after its upstream reached the revision and soaked', async () => {
    const prodRuns = (await runsOf('prod')).reverse();
    const stagingRuns = (await runsOf('staging')).reverse();
    const reached = stagingRuns.find((r, i) => r.kind === 'check' && i > 0 && stagingRuns[i - 1]!.kind === 'apply' && r.status === 'succeeded');
    const prodApply = prodRuns.find((r) => r.kind === 'apply' && r.revision === reached?.revision);
    assert.ok(reached && prodApply, `staging: ${JSON.stringify(stagingRuns.map((r) => r.kind))}, prod: ${JSON.stringify(prodRuns.map((r) => r.kind))}`);
    const after = Date.parse(prodApply.startedAt!) - Date.parse(reached.finishedAt!);
    assert.ok(after >= 3000, `prod applied ${after} ms after staging reached the revision (soak 3s)`);
    assert.ok(prodRuns.some((r) => r.kind === 'check' && r.followedBy === null && r.revision === reached.revision), 'a check of prod that waited');
  });

  test('a failure upstream holds the dependant, naming the upstream target and its run', async () => {
    await d.repo.commit(
      {
        'inventories/staging.yml': inventory(sandboxes, 's1', { version: '2', fail_it: true }),
        'inventories/prod.yml': inventory(sandboxes, 'p1', { version: '2' }),
      },
      'staging breaks; prod has a change waiting',
    );
    const head = d.repo.head();
    await d.stop();
    await d.restart();
    const prod = await waitFor('prod to wait on staging', async () => {
      const [p, s] = await Promise.all([d.target('prod'), d.target('staging')]);
      return !p.running && !s.running && s.status === 'failed' && p.waiting?.reason === 'dependency' && p.waiting.detail.includes('failed') ? p : undefined;
    }, 90_000, 200);
    const failedApply = (await runsOf('staging')).find((r) => r.kind === 'apply' && r.revision === head);
    assert.equal(prod.waiting?.detail, `staging failed at ${head.slice(0, 7)} (apply run #${failedApply?.id})`);
    assert.ok((await runsOf('prod')).every((r) => !(r.kind === 'apply' && r.revision === head)), 'prod did not apply');
    const detail: TargetDetail = await d.target('prod');
    assert.match(detail.problem ?? '', /^staging failed at/);
  });
});
