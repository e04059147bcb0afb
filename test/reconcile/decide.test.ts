import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPolicy, decide, type DecideInput, type Gate } from '../../src/reconcile/decide.js';
import { hostStatusOf, noHostsError, runErrorOf as errorOfEnd, runStatusOf as statusOfEnd, targetStatusOf } from '../../src/reconcile/status.js';
import type { ProcessOutcome } from '../../src/runner/index.js';
import type { HostRecap, RunStatus, RunSummary } from '../../src/store/types.js';

function outcome(overrides: Partial<ProcessOutcome> = {}): ProcessOutcome {
  return {
    exitCode: 0,
    signal: null,
    timedOut: false,
    cancelled: false,
    stderrTail: '',
    warnings: [],
    startError: null,
    logError: null,
    durationMs: 1200,
    ...overrides,
  };
}

/** A run that reached its recap (`completed`) had hosts in it; one that did not has no recap at all. */
function runStatusOf(o: ProcessOutcome, abortReason: unknown, completed: boolean): RunStatus {
  return statusOfEnd({ outcome: o, abortReason, recapHosts: completed ? 2 : undefined });
}

function runErrorOf(o: ProcessOutcome, status: RunStatus, timeoutMs: number): string | null {
  return errorOfEnd({ outcome: o, abortReason: undefined, recapHosts: 2 }, status, timeoutMs, 'inventories/web.yml');
}

type CheckFindings = {
  mode: 'detect' | 'apply';
  status: RunStatus;
  exitCode: number | null;
  driftedHosts: string[];
  changedTasks: string[];
  revisionApplied: boolean;
  knownNonIdempotent: ReadonlySet<string>;
};

function input(f: CheckFindings): DecideInput {
  return {
    target: { name: 'web', mode: f.mode, applyWindows: [], soakMs: 0, retryLimit: 3 },
    check: { status: f.status, exitCode: f.exitCode, driftedHosts: f.driftedHosts, changedTasks: f.changedTasks },
    revision: { sha: 'a'.repeat(40), appliedBefore: f.revisionApplied, knownNonIdempotent: f.knownNonIdempotent },
    state: { suspended: false, upstream: [] },
    request: { trigger: 'schedule', queuedAt: [new Date('2025-01-01T00:00:00Z')] },
    now: new Date('2025-01-01T00:00:00Z'),
  };
}

/** The policy's answer in the shape these table tests were first written in. */
function decideApply(f: CheckFindings): { apply: false; reason: string } | { apply: true; reason: string; limit?: string } {
  const decision = applyPolicy(input(f));
  if (decision.kind === 'apply') return decision.limit === undefined ? { apply: true, reason: decision.reason } : { apply: true, reason: decision.reason, limit: decision.limit };
  if (decision.kind === 'stop') return { apply: false, reason: decision.reason };
  throw new Error('the policy alone never waits');
}

function summary(overrides: Partial<RunSummary> & { counts?: Partial<RunSummary['summary']> } = {}): RunSummary {
  const { counts, ...rest } = overrides;
  return {
    id: 7,
    target: 'web',
    kind: 'check',
    trigger: 'schedule',
    revision: 'a'.repeat(40),
    status: 'succeeded',
    limit: null,
    queuedAt: '2025-01-01T00:00:00.000Z',
    startedAt: '2025-01-01T00:00:01.000Z',
    finishedAt: '2025-01-01T00:00:09.000Z',
    exitCode: 0,
    error: null,
    followedBy: null,
    requestedBy: null,
    previewId: null,
    summary: { hosts: 2, ok: 5, changed: 0, failed: 0, unreachable: 0, skipped: 1, ...counts },
    ...rest,
  };
}

function recap(overrides: Partial<HostRecap> = {}): HostRecap {
  return { ok: 3, changed: 0, failed: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0, ...overrides };
}

function findings(overrides: Partial<CheckFindings> = {}): CheckFindings {
  return {
    mode: 'apply',
    status: 'succeeded',
    exitCode: 0,
    driftedHosts: [],
    changedTasks: [],
    revisionApplied: true,
    knownNonIdempotent: new Set(),
    ...overrides,
  };
}

describe('runStatusOf', () => {
  it('records exit 0 as succeeded', () => {
    assert.equal(runStatusOf(outcome({ exitCode: 0 }), undefined, true), 'succeeded');
  });

  it('records exit 4 after the play ran to its recap (some hosts unreachable) as succeeded', () => {
    assert.equal(runStatusOf(outcome({ exitCode: 4 }), undefined, true), 'succeeded');
  });

  it('records exit 4 without a recap (Ansible could not parse the playbook) as failed', () => {
    assert.equal(runStatusOf(outcome({ exitCode: 4 }), undefined, false), 'failed');
  });

  it('records exit 2 (a task failed on a host) as failed', () => {
    assert.equal(runStatusOf(outcome({ exitCode: 2 }), undefined, true), 'failed');
  });

  it('records any other exit code, or none, as failed', () => {
    for (const exitCode of [1, 3, 5, 99, 250, null]) {
      assert.equal(runStatusOf(outcome({ exitCode }), undefined, true), 'failed', `exit code ${exitCode}`);
    }
  });

  it('records a run killed by its timeout as timed-out, whatever the exit code', () => {
    assert.equal(runStatusOf(outcome({ timedOut: true, exitCode: null, signal: 'SIGTERM' }), undefined, true), 'timed-out');
    assert.equal(runStatusOf(outcome({ timedOut: true, exitCode: 0 }), undefined, true), 'timed-out');
  });

  it('records a run aborted for shutdown as interrupted', () => {
    assert.equal(runStatusOf(outcome({ cancelled: true, exitCode: null }), 'shutdown', true), 'interrupted');
  });

  it('records a run aborted for any other reason as cancelled', () => {
    assert.equal(runStatusOf(outcome({ cancelled: true, exitCode: null }), 'cancel', true), 'cancelled');
    assert.equal(runStatusOf(outcome({ cancelled: true, exitCode: null }), undefined, true), 'cancelled');
  });

  it('ignores the abort reason when the run was not cancelled', () => {
    assert.equal(runStatusOf(outcome({ exitCode: 0 }), 'shutdown', true), 'succeeded');
  });
});

describe('runErrorOf', () => {
  it('names the timeout in whole seconds for a timed-out run', () => {
    assert.equal(runErrorOf(outcome({ timedOut: true }), 'timed-out', 90_400), 'killed after the run timeout of 90s');
  });

  it('says a cancelled run was cancelled on request', () => {
    assert.equal(runErrorOf(outcome({ cancelled: true }), 'cancelled', 1000), 'cancelled on request');
  });

  it('says an interrupted run was stopped by fleetcd stopping', () => {
    assert.equal(runErrorOf(outcome({ cancelled: true }), 'interrupted', 1000), 'fleetcd stopped during this run');
  });

  it('has no error for a succeeded run, even with stderr output', () => {
    assert.equal(runErrorOf(outcome({ exitCode: 4, stderrTail: 'some warning' }), 'succeeded', 1000), null);
  });

  it('has no run-level error for exit 2: the failure is a task result, not Ansible refusing', () => {
    assert.equal(runErrorOf(outcome({ exitCode: 2, stderrTail: 'fatal: [web1]' }), 'failed', 1000), null);
  });

  it("quotes Ansible's stderr for any other failure", () => {
    const error = runErrorOf(outcome({ exitCode: 5, stderrTail: 'ERROR! the playbook could not be found' }), 'failed', 1000);
    assert.equal(error, 'ansible-playbook failed: ERROR! the playbook could not be found');
  });

  it('falls back to exit code and signal when stderr is empty', () => {
    assert.equal(runErrorOf(outcome({ exitCode: 1 }), 'failed', 1000), 'ansible-playbook failed: exit code 1, signal none');
    assert.equal(
      runErrorOf(outcome({ exitCode: null, signal: 'SIGKILL' }), 'failed', 1000),
      'ansible-playbook failed: exit code none, signal SIGKILL',
    );
  });
});

describe('targetStatusOf (CONTRACT-NOTES 3)', () => {
  it('is unknown before any finished run', () => {
    assert.equal(targetStatusOf(null), 'unknown');
  });

  it('is failed when the latest run failed', () => {
    assert.equal(targetStatusOf(summary({ status: 'failed', exitCode: 2, counts: { failed: 1 } })), 'failed');
  });

  it('is failed when the latest run timed out', () => {
    assert.equal(targetStatusOf(summary({ status: 'timed-out', exitCode: null })), 'failed');
  });

  it('is failed, not unreachable, when the latest run failed and also missed hosts', () => {
    assert.equal(targetStatusOf(summary({ status: 'failed', counts: { failed: 1, unreachable: 1 } })), 'failed');
  });

  it('is unreachable when the latest run missed a host and nothing failed', () => {
    assert.equal(targetStatusOf(summary({ exitCode: 4, counts: { unreachable: 1 } })), 'unreachable');
  });

  it('is unreachable rather than drifted when a check both missed a host and found changes', () => {
    assert.equal(targetStatusOf(summary({ exitCode: 4, counts: { unreachable: 1, changed: 2 } })), 'unreachable');
  });

  it('is drifted when the latest run is a check that found changes', () => {
    assert.equal(targetStatusOf(summary({ kind: 'check', counts: { changed: 3 } })), 'drifted');
  });

  it('is in-sync when the latest run is an apply that made changes', () => {
    assert.equal(targetStatusOf(summary({ kind: 'apply', counts: { changed: 3 } })), 'in-sync');
  });

  it('is in-sync when the latest check found nothing to change', () => {
    assert.equal(targetStatusOf(summary({ kind: 'check' })), 'in-sync');
  });
});

describe('hostStatusOf', () => {
  it('is failed when a task failed on the host, even if it also changed things', () => {
    assert.equal(hostStatusOf('check', recap({ failed: 1, changed: 2 })), 'failed');
  });

  it('is unreachable when the host could not be reached', () => {
    assert.equal(hostStatusOf('check', recap({ ok: 0, unreachable: 1 })), 'unreachable');
  });

  it('is drifted when a check would change the host', () => {
    assert.equal(hostStatusOf('check', recap({ changed: 1 })), 'drifted');
  });

  it('is in-sync when an apply changed the host', () => {
    assert.equal(hostStatusOf('apply', recap({ changed: 1 })), 'in-sync');
  });

  it('is in-sync when a check found nothing', () => {
    assert.equal(hostStatusOf('check', recap()), 'in-sync');
  });
});

describe('decideApply', () => {
  it('never applies in detect mode, even on drift of a never-applied revision', () => {
    const decision = decideApply(
      findings({ mode: 'detect', revisionApplied: false, driftedHosts: ['web1'], changedTasks: ['Write config'] }),
    );
    assert.equal(decision.apply, false);
  });

  it('never applies a failed check in detect mode', () => {
    assert.equal(decideApply(findings({ mode: 'detect', status: 'failed', exitCode: 2 })).apply, false);
  });

  it('applies to all hosts after a check that failed on a host (exit 2) in apply mode', () => {
    const decision = decideApply(findings({ status: 'failed', exitCode: 2, driftedHosts: ['web1'], changedTasks: ['a'] }));
    assert.equal(decision.apply, true);
    assert.equal(decision.apply && decision.limit, undefined);
  });

  it('does not apply after a check that failed before running tasks (exit other than 2)', () => {
    for (const exitCode of [1, 3, 4, 5, 250, null]) {
      const decision = decideApply(findings({ status: 'failed', exitCode, revisionApplied: false }));
      assert.equal(decision.apply, false, `exit code ${exitCode}`);
    }
  });

  it('does not apply after a check that timed out, was cancelled or was interrupted', () => {
    for (const status of ['timed-out', 'cancelled', 'interrupted'] as const) {
      const decision = decideApply(findings({ status, exitCode: null, revisionApplied: false, driftedHosts: ['web1'] }));
      assert.deepEqual(decision, { apply: false, reason: `the check ${status}` });
    }
  });

  it('applies a never-applied revision to all hosts, even when the check found no drift', () => {
    const decision = decideApply(findings({ revisionApplied: false }));
    assert.equal(decision.apply, true);
    assert.equal(decision.apply && decision.limit, undefined);
  });

  it('applies a never-applied revision to all hosts, not only the drifted ones', () => {
    const decision = decideApply(findings({ revisionApplied: false, driftedHosts: ['web1'], changedTasks: ['a'] }));
    assert.equal(decision.apply, true);
    assert.equal(decision.apply && decision.limit, undefined);
  });

  it('does not apply an applied revision when nothing drifted', () => {
    assert.deepEqual(decideApply(findings()), { apply: false, reason: 'no drift' });
  });

  it('applies drift limited to the drifted hosts', () => {
    const decision = decideApply(findings({ driftedHosts: ['web1', 'web-2.example.com', 'db_3'], changedTasks: ['a'] }));
    assert.equal(decision.apply, true);
    assert.equal(decision.apply && decision.limit, 'web1,web-2.example.com,db_3');
  });

  it('applies to all hosts without a limit when a drifted host name looks like a pattern', () => {
    for (const host of ['web[1:3]', 'web*', '!db1', 'app&prod', 'fe80::1', 'a,b', '~web\\d']) {
      const decision = decideApply(findings({ driftedHosts: ['web1', host], changedTasks: ['a'] }));
      assert.equal(decision.apply, true, host);
      assert.equal(decision.apply && decision.limit, undefined, `${host} must not be passed to --limit`);
    }
  });

  it('does not apply when every change is a task known to be non-idempotent', () => {
    const decision = decideApply(
      findings({
        driftedHosts: ['web1', 'web2'],
        changedTasks: ['Restart app', 'Touch stamp'],
        knownNonIdempotent: new Set(['Restart app', 'Touch stamp', 'Other']),
      }),
    );
    assert.equal(decision.apply, false);
  });

  it('applies when some change is not among the known non-idempotent tasks', () => {
    const decision = decideApply(
      findings({
        driftedHosts: ['web1'],
        changedTasks: ['Restart app', 'Write config'],
        knownNonIdempotent: new Set(['Restart app']),
      }),
    );
    assert.equal(decision.apply, true);
    assert.equal(decision.apply && decision.limit, 'web1');
  });
});

describe('runs that matched no host', () => {
  it('are failed even when Ansible exits 0: nothing was checked', () => {
    assert.equal(statusOfEnd({ outcome: outcome({ exitCode: 0 }), abortReason: undefined, recapHosts: 0 }), 'failed');
  });

  it("name the inventory and quote Ansible's parse warning", () => {
    const warnings = ['Unable to parse /srv/repo/inventories/cache as an inventory source', 'No inventory was parsed, only implicit localhost is available'];
    assert.equal(
      noHostsError('inventories/cache', warnings),
      'inventory inventories/cache has no hosts (Ansible: Unable to parse /srv/repo/inventories/cache as an inventory source)',
    );
    const end = { outcome: outcome({ warnings }), abortReason: undefined, recapHosts: 0 };
    assert.match(errorOfEnd(end, 'failed', 1000, 'inventories/cache') ?? '', /^inventory inventories\/cache has no hosts/);
  });

  it('say when the plays match none of the hosts', () => {
    assert.equal(noHostsError('inventories/web.yml', []), 'no play matched any host of inventory inventories/web.yml');
  });
});

describe('runs that never started', () => {
  it('are failed with the command and the reason as their error', () => {
    const end = { outcome: outcome({ exitCode: null, startError: 'ansible-playbook: not found on PATH (/usr/bin)' }), abortReason: undefined, recapHosts: undefined };
    assert.equal(statusOfEnd(end), 'failed');
    assert.equal(errorOfEnd(end, 'failed', 1000, 'inventories/web.yml'), 'ansible-playbook: not found on PATH (/usr/bin)');
  });

  it('are failed when their log cannot be written, with the reason', () => {
    const end = { outcome: outcome({ exitCode: null, cancelled: false, logError: 'cannot write the run log /x: ENOSPC' }), abortReason: undefined, recapHosts: undefined };
    assert.equal(statusOfEnd(end), 'failed');
    assert.equal(errorOfEnd(end, 'failed', 1000, 'inventories/web.yml'), 'cannot write the run log /x: ENOSPC');
  });
});

describe('decide: the policy, then the gates', () => {
  const drift: CheckFindings = {
    mode: 'apply',
    status: 'succeeded',
    exitCode: 0,
    driftedHosts: ['web1'],
    changedTasks: ['Write config'],
    revisionApplied: true,
    knownNonIdempotent: new Set(),
  };
  const closed: Gate = () => ({ reason: 'window', detail: 'outside the window', until: '2025-01-01T02:00:00.000Z' });
  const open: Gate = () => undefined;

  it('applies when every gate lets it', () => {
    assert.deepEqual(decide(input(drift), [open, open]), { kind: 'apply', reason: 'drift found', limit: 'web1' });
  });

  it('waits on the first gate that holds, saying what for', () => {
    assert.deepEqual(decide(input(drift), [open, closed]), {
      kind: 'wait',
      waiting: { reason: 'window', detail: 'outside the window', until: '2025-01-01T02:00:00.000Z' },
    });
  });

  it('never waits when there is nothing to apply', () => {
    assert.deepEqual(decide(input({ ...drift, driftedHosts: [], changedTasks: [] }), [closed]), { kind: 'stop', reason: 'no drift' });
  });

  it('stops for an explicit check request, whatever the mode', () => {
    const asked = { ...input(drift), request: { trigger: 'api' as const, mode: 'check' as const, queuedAt: [] } };
    assert.deepEqual(decide(asked), { kind: 'stop', reason: 'a check was asked for' });
  });

  it('applies for an explicit apply request in detect mode', () => {
    const asked = { ...input({ ...drift, mode: 'detect' }), request: { trigger: 'api' as const, mode: 'apply' as const, queuedAt: [] } };
    assert.equal(decide(asked).kind, 'apply');
  });
});

describe('decide: apply windows gate when a reconcile was asked for, not when its check ended', () => {
  // 02:00–02:10 UTC every day; the check of a reconcile asked for at 02:09 ends at 02:12.
  const windows = [{ cron: '0 2 * * *', durationMs: 600_000, timezone: 'UTC' }];
  const drift = findings({ driftedHosts: ['web1'], changedTasks: ['Write config'] });
  const at = (queuedAt: string[], now: string, extra: Partial<DecideInput['request']> = {}): DecideInput => {
    const base = input(drift);
    return {
      ...base,
      target: { ...base.target, applyWindows: windows },
      request: { trigger: 'schedule', ...extra, queuedAt: queuedAt.map((t) => new Date(t)) },
      now: new Date(now),
    };
  };
  const nextWindow = {
    kind: 'wait',
    waiting: {
      reason: 'window',
      detail: 'outside the apply windows; the next opens at 2025-01-02T02:00:00.000Z ("0 2 * * *" (UTC) for 10m)',
      until: '2025-01-02T02:00:00.000Z',
    },
  };

  it('applies when it was queued inside a window that closed before its check ended', () => {
    assert.deepEqual(decide(at(['2025-01-01T02:09:00Z'], '2025-01-01T02:12:00Z')), { kind: 'apply', reason: 'drift found', limit: 'web1' });
  });

  it('waits for the next window, naming it, when it was queued outside one', () => {
    assert.deepEqual(decide(at(['2025-01-01T01:59:00Z'], '2025-01-01T02:12:00Z')), nextWindow);
    assert.deepEqual(decide(at(['2025-01-01T02:10:00Z'], '2025-01-01T02:12:00Z')), nextWindow, 'the window closed at 02:10');
  });

  it('applies when it was queued outside but the check ends inside a window, as before', () => {
    assert.equal(decide(at(['2025-01-01T01:59:00Z'], '2025-01-01T02:01:00Z')).kind, 'apply');
  });

  it('applies when a request that joined it came inside a window (the window opening joined an earlier reconcile)', () => {
    assert.equal(decide(at(['2025-01-01T01:59:00Z', '2025-01-01T02:00:00Z'], '2025-01-01T02:12:00Z')).kind, 'apply');
  });

  it('goes through with force or a rollback wherever it was queued', () => {
    assert.equal(decide(at(['2025-01-01T01:59:00Z'], '2025-01-01T02:12:00Z', { force: true })).kind, 'apply');
    assert.equal(decide(at(['2025-01-01T01:59:00Z'], '2025-01-01T02:12:00Z', { trigger: 'rollback' })).kind, 'apply');
  });
});
