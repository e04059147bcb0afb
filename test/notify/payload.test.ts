import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NotificationEvent } from '../../src/config/index.js';
import { jsonPayload, pageBase, problemOf, runNotice, slackPayload, sourceNotice } from '../../src/notify/payload.js';
import { readSecretHeader } from '../../src/notify/secret-header.js';
import { fetchEvents, runEvents } from '../../src/notify/transitions.js';
import type { Receiver } from '../../src/notify/types.js';
import { settledStatusOf, type TargetStatus } from '../../src/reconcile/status.js';
import type { RunSummary } from '../../src/store/types.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const summary = (changed: number, hosts = 2) => ({ hosts, ok: 3, changed, failed: 0, unreachable: 0, skipped: 0 });

/** A run as the store returns it (fields the notifier does not read may be added to RunSummary meanwhile). */
function run(kind: RunSummary['kind'], changed: number, extra: Partial<RunSummary> = {}): RunSummary {
  return {
    id: 42,
    target: 'web',
    kind,
    trigger: 'schedule',
    revision: 'a'.repeat(40),
    status: 'succeeded',
    limit: null,
    queuedAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:01.000Z',
    finishedAt: '2026-01-01T00:00:09.000Z',
    exitCode: 0,
    error: null,
    followedBy: null,
    summary: summary(changed),
    ...extra,
  } as RunSummary;
}

describe('which events a finished run fires', () => {
  const table: Array<[string, RunSummary['kind'], number, TargetStatus, TargetStatus, NotificationEvent[]]> = [
    ['a first check that finds drift', 'check', 2, 'unknown', 'drifted', ['drift']],
    ['a target that becomes drifted', 'check', 2, 'in-sync', 'drifted', ['drift']],
    ['drift found again', 'check', 2, 'drifted', 'drifted', []],
    ['a drifted target seen in sync', 'check', 0, 'drifted', 'in-sync', ['recovered']],
    ['a failed target seen in sync', 'check', 0, 'failed', 'in-sync', ['recovered']],
    ['an unreachable target seen in sync', 'check', 0, 'unreachable', 'in-sync', []],
    ['a first check in sync', 'check', 0, 'unknown', 'in-sync', []],
    ['a target that becomes failed', 'check', 0, 'drifted', 'failed', ['failed']],
    ['a failure again', 'check', 0, 'failed', 'failed', []],
    ['a drifted target that becomes unreachable', 'check', 0, 'drifted', 'unreachable', []],
    ['an apply that heals drift (settled: drifted until its verify check)', 'apply', 3, 'drifted', 'drifted', ['applied']],
    ['the verify check after it', 'check', 0, 'drifted', 'in-sync', ['recovered']],
    ['an apply that rolls out a commit to an in-sync target', 'apply', 2, 'in-sync', 'in-sync', ['applied']],
    ['an apply that changed nothing', 'apply', 0, 'in-sync', 'in-sync', []],
    ['an apply that changed hosts and failed', 'apply', 1, 'drifted', 'failed', ['failed', 'applied']],
  ];
  for (const [what, kind, changed, before, after, events] of table) {
    it(`${what}: ${events.join(', ') || 'nothing'}`, () => {
      assert.deepEqual(runEvents(run(kind, changed), before, after), events);
    });
  }
});

describe('the settled status that notifications follow', () => {
  const check = (changed: number, id = 1) => run('check', changed, { id });
  const apply = (status: RunSummary['status'], id = 2) => run('apply', 1, { id, status });
  const none = () => false;

  it('a succeeded apply leaves the status of the check before it: only a verify check tells a recovery', () => {
    assert.equal(settledStatusOf({ lastConclusive: apply('succeeded'), lastCheck: check(2) }, none), 'drifted');
    assert.equal(settledStatusOf({ lastConclusive: apply('succeeded'), lastCheck: run('check', 0, { status: 'failed' }) }, none), 'failed');
  });

  it('a failed apply is a failure at once', () => {
    assert.equal(settledStatusOf({ lastConclusive: apply('failed'), lastCheck: check(2) }, none), 'failed');
  });

  it('a check whose only changes are known non-idempotent tasks is in sync; other drift stays drift', () => {
    const only = (r: RunSummary) => r.id === 3;
    assert.equal(settledStatusOf({ lastConclusive: check(1, 3), lastCheck: check(1, 3) }, only), 'in-sync');
    assert.equal(settledStatusOf({ lastConclusive: check(2, 4), lastCheck: check(2, 4) }, only), 'drifted');
    assert.equal(settledStatusOf({ lastConclusive: null, lastCheck: null }, only), 'unknown');
  });
});

describe('the problem every notification carries', () => {
  const facts = (extra: Partial<{ problem: string | null; changedTasks: string[]; nonIdempotentTasks: string[] }> = {}) => ({ problem: null, driftedHosts: 1, ...extra });

  it("is the target's own problem when it has one", () => {
    assert.equal(problemOf('drift', run('check', 1), facts({ problem: 'outside the apply windows', changedTasks: ['a'] })), 'outside the apply windows');
  });

  it('else what the event found: drift names the tasks, a failure its error, a recovery the non-idempotent tasks', () => {
    assert.equal(problemOf('drift', run('check', 5), facts({ changedTasks: ['a', 'b', 'c', 'd', 'e'] })), 'drift in a, b, c and 2 more');
    assert.equal(problemOf('drift', run('check', 2), facts()), '2 tasks would change');
    assert.equal(problemOf('failed', run('check', 0, { error: 'ansible-playbook failed: boom' }), facts()), 'ansible-playbook failed: boom');
    assert.equal(problemOf('recovered', run('check', 1), facts({ nonIdempotentTasks: ['stamp'] })), 'in sync but for 1 task known to be non-idempotent: stamp');
  });

  it('is null only when nothing is wrong', () => {
    assert.equal(problemOf('recovered', run('check', 0), facts()), null);
    assert.equal(problemOf('applied', run('apply', 2), facts()), null);
  });
});

describe('which events a fetch fires', () => {
  const table: Array<[string, boolean | undefined, boolean, NotificationEvent[]]> = [
    ['the first fetch fails', undefined, false, ['source-error']],
    ['a fetch fails after one that worked', false, false, ['source-error']],
    ['a fetch fails again', true, false, []],
    ['the first fetch works', undefined, true, []],
    ['a failing source works again', true, true, []],
  ];
  for (const [what, wasFailing, ok, events] of table) {
    it(`${what}: ${events.join(', ') || 'nothing'}`, () => assert.deepEqual(fetchEvents(wasFailing, ok), events));
  }
});

describe('payloads', () => {
  const base = 'http://127.0.0.1:9110';
  const at = '2026-01-01T00:00:10.000Z';

  it('links to the page at api.publicUrl, else at api.listen, an IPv6 address in brackets', () => {
    assert.equal(pageBase({ host: '127.0.0.1', port: 9110, publicUrl: 'https://fleetcd.example.com/' }), 'https://fleetcd.example.com');
    assert.equal(pageBase({ host: '127.0.0.1', port: 9110 }), 'http://127.0.0.1:9110');
    assert.equal(pageBase({ host: '::1', port: 9110 }), 'http://[::1]:9110');
    assert.equal(pageBase({ host: 'ops.example.com', port: 443, tls: { certFile: 'c', keyFile: 'k' } }), 'https://ops.example.com:443');
  });

  it('json: event, time, target, status, problem, the run and its link', () => {
    const notice = runNotice({ event: 'drift', run: run('check', 3), status: 'drifted', facts: { problem: null, driftedHosts: 2, changedTasks: ['app config'] }, base, at });
    assert.deepEqual(jsonPayload(notice), {
      event: 'drift',
      at,
      target: 'web',
      status: 'drifted',
      problem: 'drift in app config',
      run: { id: 42, kind: 'check', revision: 'a'.repeat(40), summary: summary(3) },
      url: 'http://127.0.0.1:9110/#/runs/42',
    });
  });

  it('slack: one line with the target in bold, the problem and a link to the run', () => {
    const text = (event: NotificationEvent, r: RunSummary, status: TargetStatus, problem: string | null = null) =>
      slackPayload(runNotice({ event, run: r, status, facts: { problem, driftedHosts: event === 'drift' ? 2 : 0 }, base, at })).text;
    assert.equal(text('drift', run('check', 3), 'drifted'), '*web* drifted: 2 hosts would change (check run #42) — 3 tasks would change <http://127.0.0.1:9110/#/runs/42|open>');
    assert.equal(
      text('drift', run('check', 3), 'drifted', 'outside the apply windows; the next opens at <02:00>'),
      '*web* drifted: 2 hosts would change (check run #42) — outside the apply windows; the next opens at &lt;02:00&gt; <http://127.0.0.1:9110/#/runs/42|open>',
    );
    assert.equal(text('applied', run('apply', 1), 'in-sync'), '*web* applied 1 change on 2 hosts (apply run #42) <http://127.0.0.1:9110/#/runs/42|open>');
    assert.equal(text('recovered', run('check', 0), 'in-sync'), '*web* is back in sync (check run #42) <http://127.0.0.1:9110/#/runs/42|open>');
    assert.equal(
      text('failed', run('check', 0, { status: 'failed' }), 'failed', 'ansible-playbook failed: <stdin> & more'),
      '*web* failed: ansible-playbook failed: &lt;stdin&gt; &amp; more (check run #42) <http://127.0.0.1:9110/#/runs/42|open>',
      "Slack's markup characters in a problem are escaped",
    );
  });

  it('source-error: no target and no run, the error as the problem, a link to the source view', () => {
    const notice = sourceNotice({ error: 'fetch of origin failed: connection refused', base, at });
    assert.deepEqual(jsonPayload(notice), {
      event: 'source-error',
      at,
      target: null,
      status: null,
      problem: 'fetch of origin failed: connection refused',
      run: null,
      url: 'http://127.0.0.1:9110/#/source',
    });
    assert.equal(slackPayload(notice).text, 'source failing: fetch of origin failed: connection refused <http://127.0.0.1:9110/#/source|open>');
  });
});

describe('the secret header file', () => {
  const receiver = (file: string): Receiver => ({ name: 'hook', url: 'http://127.0.0.1:1/', events: ['drift'], format: 'json', secretHeaderFile: file });

  it('holds `Header-Name: value`; a malformed one is refused naming the file, never its content', (t) => {
    const dir = tempDir('fleetcd-secret-');
    t.after(() => removeDir(dir));
    const good = join(dir, 'good');
    writeFileSync(good, 'X-Hook-Token:  s3cret: with colon \n');
    assert.deepEqual(readSecretHeader(receiver(good)), { name: 'X-Hook-Token', value: 's3cret: with colon' });
    const bad = join(dir, 'bad');
    writeFileSync(bad, 'just-the-s3cret-value\n');
    assert.throws(() => readSecretHeader(receiver(bad)), (error: Error) => {
      assert.match(error.message, /notifications\.hook\.secretHeaderFile: .*bad must hold one line `Header-Name: value`/);
      assert.doesNotMatch(error.message, /s3cret/);
      return true;
    });
    assert.throws(() => readSecretHeader(receiver(join(dir, 'missing'))), /notifications\.hook\.secretHeaderFile: cannot read .*missing: no such file/);
  });
});
