import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunSummary } from '../../src/api/schemas.js';
import { errorText } from '../../src/cli/commands/options.js';
import { chainExit, exitCodes } from '../../src/cli/outcome.js';
import { advance, progressLine, type RunProgress } from '../../src/cli/progress.js';
import { colour, plain, styleFor, visibleWidth } from '../../src/cli/render/style.js';
import { fields, table } from '../../src/cli/render/table.js';
import { ago, duration } from '../../src/cli/render/time.js';

const now = new Date('2025-03-01T10:00:00.000Z');

describe('times', () => {
  it('writes durations in their largest two units', () => {
    assert.deepEqual([850, 12_000, 184_000, 3_720_000, 7_200_000, 190_800_000].map(duration), ['850ms', '12s', '3m 4s', '1h 2m', '2h', '2d 5h']);
  });

  it('writes ages coarsely, past and future', () => {
    assert.equal(ago('2025-03-01T09:57:00.000Z', now), '3m ago');
    assert.equal(ago('2025-03-01T10:00:00.400Z', now), 'just now');
    assert.equal(ago('2025-03-01T12:30:00.000Z', now), 'in 2h');
    assert.equal(ago(null, now), '-');
  });
});

describe('style', () => {
  it('colours only a terminal, and never with NO_COLOR set', () => {
    assert.equal(styleFor({ isTTY: true }, {}), colour);
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: '1' }), plain);
    assert.equal(styleFor({ isTTY: false }, {}), plain);
    assert.equal(styleFor({}, {}), plain);
  });

  it('aligns tables on the visible width of coloured cells', () => {
    const lines = table(['A', 'B'], [[colour.red('failed'), 'x'], ['ok', 'y']], plain);
    assert.equal(visibleWidth(lines[1]!), 'failed  x'.length);
    assert.equal(lines[2], 'ok      y');
    assert.deepEqual(fields([['a', '1'], ['longer', '2'], ['skipped', null]]), ['  a       1', '  longer  2']);
  });
});

describe('exit codes of a chain', () => {
  const run = (overrides: Partial<RunSummary>) =>
    ({ kind: 'check', status: 'succeeded', followedBy: null, summary: { hosts: 1, ok: 1, changed: 0, failed: 0, unreachable: 0, skipped: 0 }, ...overrides }) as never;
  const counts = (changed: number, unreachable = 0) => ({ hosts: 1, ok: 1, changed, failed: 0, unreachable, skipped: 0 });

  it('is 2 when the chain ends in a check with drift, 0 when an apply and its verify are clean, 1 on any failure', () => {
    assert.equal(chainExit([run({ summary: counts(1) })]), exitCodes.drift);
    assert.equal(chainExit([run({ summary: counts(1) }), run({ kind: 'apply', summary: counts(1) }), run({})]), exitCodes.inSync);
    assert.equal(chainExit([run({ status: 'cancelled' })]), exitCodes.error);
    assert.equal(chainExit([run({ summary: counts(0, 1) })]), exitCodes.error);
  });
});

describe('progress of a run being waited for', () => {
  const running = { id: 43, target: 'lab', kind: 'apply', status: 'running', startedAt: '2025-03-01T09:59:48.000Z', finishedAt: null } as RunSummary;
  const event = (id: number, host: string, task: string) => ({ id, host, task }) as never;

  it('counts the hosts that reported the newest task, out of the total', () => {
    const progress: RunProgress = { cursor: 0, task: undefined, hosts: new Set(), tasks: 0 };
    advance(progress, [event(1, 'one', 'Gather'), event(2, 'two', 'Gather'), event(3, 'one', 'Write config')]);
    assert.equal(progress.cursor, 3);
    assert.equal(progressLine('lab', running, progress, 2, now), 'lab: run #43 apply running 12s · task 2 "Write config" 1/2 hosts');
    advance(progress, [event(4, 'two', 'Write config')]);
    assert.equal(progressLine('lab', running, progress, undefined, now), 'lab: run #43 apply running 12s · task 2 "Write config" 2 hosts');
    assert.equal(progressLine('lab', { ...running, status: 'queued', startedAt: null }, undefined, 2, now), 'lab: run #43 apply queued');
  });
});

describe("commander's usage errors", () => {
  it('read as fleetcd errors with the suggestion on the same line', () => {
    assert.equal(errorText("error: unknown command 'statsu'\n(Did you mean status?)\n"), "fleetcd: unknown command 'statsu' (did you mean 'status'?)\n");
    assert.equal(
      errorText("error: unknown option '--tagret'\n(Did you mean one of --target, --targets?)\n"),
      "fleetcd: unknown option '--tagret' (did you mean one of '--target', '--targets'?)\n",
    );
    assert.equal(errorText("error: missing required argument 'name'\n"), "fleetcd: missing required argument 'name'\n");
  });
});
