import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { precheckNeeded, type PrecheckInput } from '../../src/reconcile/precheck.js';

const now = new Date('2025-01-01T12:00:00Z');
/** Open 02:00–02:10 UTC: closed at `now` and when the reconcile was asked for. */
const closedWindows = [{ cron: '0 2 * * *', durationMs: 600_000, timezone: 'UTC' }];

/** A target in apply mode at a revision it never applied, with nothing holding it: the case that skips the check. */
function input(change: (i: PrecheckInput) => void = () => {}): PrecheckInput {
  const i: PrecheckInput = {
    precheck: 'auto',
    target: { name: 'web', mode: 'apply', applyWindows: [], soakMs: 0, retryLimit: 3 },
    revision: { sha: 'b'.repeat(40), appliedBefore: false },
    state: { suspended: false, upstream: [] },
    request: { trigger: 'commit', queuedAt: [now] },
    now,
  };
  change(i);
  return i;
}

describe('precheckNeeded: whether a new revision is checked before its apply', () => {
  const skipped: Array<[string, PrecheckInput]> = [
    ['apply mode, a revision never applied, nothing holding it', input()],
    ['the same asked for by the API without a mode', input((i) => (i.request = { queuedAt: [now], trigger: 'api' }))],
    ['an explicit apply of an apply-mode target', input((i) => (i.request = { queuedAt: [now], trigger: 'cli', mode: 'apply' }))],
    ['a retry whose backoff has passed', input((i) => (i.state.retry = { attempt: 1, nextAt: '2025-01-01T11:59:00.000Z' }))],
    ['outside the windows with force', input((i) => {
      i.target.applyWindows = closedWindows;
      i.request = { queuedAt: [now], trigger: 'api', force: true };
    })],
    ['a dependency that reached the revision and soaked', input((i) => {
      i.state.upstream = [{ name: 'staging', exists: true, reachedAt: '2025-01-01T11:00:00.000Z' }];
      i.target.soakMs = 60_000;
    })],
  ];
  for (const [situation, given] of skipped) {
    it(`skips the check: ${situation}`, () => {
      const plan = precheckNeeded(given);
      assert.equal(plan.needed, false, plan.reason);
      assert.match(plan.reason, /never applied/);
    });
  }

  const kept: Array<[string, PrecheckInput, RegExp]> = [
    ['detect mode', input((i) => (i.target.mode = 'detect')), /mode is detect/],
    ['an explicit apply of a detect target (its check is the run people look at)', input((i) => {
      i.target.mode = 'detect';
      i.request = { queuedAt: [now], trigger: 'cli', mode: 'apply' };
    }), /mode is detect/],
    ['a check asked for', input((i) => (i.request = { queuedAt: [now], trigger: 'cli', mode: 'check' })), /check was asked for/],
    ['a check asked for, with force', input((i) => (i.request = { queuedAt: [now], trigger: 'api', mode: 'check', force: true })), /check was asked for/],
    ['a revision applied before (the check finds the drifted hosts)', input((i) => (i.revision.appliedBefore = true)), /applied before/],
    ['a suspended target', input((i) => (i.state.suspended = true)), /suspended/],
    ['outside the apply windows', input((i) => (i.target.applyWindows = closedWindows)), /window: /],
    ['a dependency that has not reached the revision', input((i) => (i.state.upstream = [{ name: 'staging', exists: true }])), /dependency: staging has not reached/],
    ['a dependency still soaking', input((i) => {
      i.state.upstream = [{ name: 'staging', exists: true, reachedAt: '2025-01-01T11:59:00.000Z' }];
      i.target.soakMs = 3_600_000;
    }), /dependency: .*soaking until/],
    ['a dependency that failed', input((i) => (i.state.upstream = [{ name: 'staging', exists: true, failed: { runId: 4, kind: 'apply' } }])), /dependency: staging failed/],
    ['a retry backoff that has not passed', input((i) => (i.state.retry = { attempt: 1, nextAt: '2025-01-01T12:05:00.000Z' })), /retry: .*retrying at/],
    ['retries used up at this revision', input((i) => (i.state.retry = { attempt: 4, nextAt: null })), /retry: the apply failed 4 times/],
    ['a failed policy gate', input((i) => (i.state.gateFailure = 'gate lint failed (exit 1)')), /gate: gate lint failed/],
    ['a failed policy gate, even with force', input((i) => {
      i.state.gateFailure = 'gate lint failed (exit 1)';
      i.request = { queuedAt: [now], trigger: 'api', mode: 'apply', force: true };
    }), /gate: gate lint failed/],
    ['precheck: always', input((i) => (i.precheck = 'always')), /precheck is always/],
    ['a target that cannot run at the revision', input((i) => (i.problem = 'playbook playbooks/site.yml does not exist in this revision')), /cannot run: playbook/],
  ];
  for (const [situation, given, reason] of kept) {
    it(`keeps the check: ${situation}`, () => {
      const plan = precheckNeeded(given);
      assert.equal(plan.needed, true);
      assert.match(plan.reason, reason);
    });
  }

  it('asks the gates it is given, so a new control holds the skip as it holds the apply', () => {
    const held = precheckNeeded(input(), [() => ({ reason: 'hold', detail: 'held at an older revision' })]);
    assert.deepEqual(held, { needed: true, reason: 'the apply would wait (hold: held at an older revision)' });
    assert.equal(precheckNeeded(input(), []).needed, false);
  });
});
