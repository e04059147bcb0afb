import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runGateProgram } from '../../src/runner/gate.js';
import { findExecutable, watchdogFd } from '../../src/runner/watchdog.js';
import { processes, type ProcessLine } from '../helpers/processes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The watchdog beside a child (runner/watchdog.ts), in-process: where it sits, what it holds, that the child
 * is spawned as it was before (leader of its group, its own argv, no extra descriptor), and that a normal end
 * takes it along. Its purpose — dying with the daemon — needs a daemon to kill: test/operations/daemon-death.test.ts.
 */

const live = (pgid: number): ProcessLine[] => processes().filter((p) => p.pgid === pgid && !p.stat.startsWith('Z'));
const fds = (pid: number): Record<string, string> =>
  Object.fromEntries(readdirSync(`/proc/${pid}/fd`).map((fd) => [fd, readlinkSync(`/proc/${pid}/fd/${fd}`)]));

describe('the watchdog in a child’s process group', () => {
  const dir = tempDir('fleetcd-watchdog-');
  after(() => removeDir(dir));

  test('a gate leads its group with its own argv and no watchdog socket; the watchdog beside it holds the socket and none of its output, and outlives a SIGTERM; both go at the end', async () => {
    const marker = `fleetcd-watchdog-test-${process.pid}`;
    const outcome = runGateProgram(dir, ['sh', '-c', 'sleep 2.3; echo done', marker], { PATH: process.env.PATH ?? '/usr/bin:/bin' }, { timeoutMs: 60_000, killGraceMs: 5000 });
    const gate = await waitFor('the gate to run', () => processes().find((p) => p.args === `sh -c sleep 2.3; echo done ${marker}`), 10_000, 20);
    assert.equal(gate.pgid, gate.pid, 'the gate is its group’s leader, as when spawned directly');
    assert.equal(fds(gate.pid)[String(watchdogFd)], undefined, 'the gate does not hold the watchdog’s socket');
    // Its own command line names it (and only once it has exec'd, with its descriptors in place).
    const watchdog = await waitFor('a watchdog in the gate’s group', () => live(gate.pgid).find((p) => p.args.endsWith(' fleetcd-watchdog')), 5000, 20);
    const held = fds(watchdog.pid);
    assert.match(held['0'] ?? '', /^socket:/, `it reads the daemon’s socket: ${JSON.stringify(held)}`);
    // None of the gate's output: a reader waiting for its end of file would wait for the watchdog.
    assert.deepEqual([held['1'], held['2'], held['3'], held[String(watchdogFd)]], ['/dev/null', '/dev/null', undefined, undefined]);
    // It outlives a stop's SIGTERM (SigIgn, a hex mask with bit n-1 for signal n), so it covers the grace too.
    const ignored = BigInt(`0x${/^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${watchdog.pid}/status`, 'utf8'))![1]}`);
    assert.equal((ignored >> 14n) & 1n, 1n, 'the watchdog ignores SIGTERM');
    const output = [fds(gate.pid)['1'], fds(gate.pid)['2']];
    assert.deepEqual(Object.values(held).filter((target) => output.includes(target)), [], JSON.stringify({ held, output }));
    assert.deepEqual(await outcome, { exitCode: 0, output: 'done', timedOut: false, cancelled: false });
    await waitFor('the gate’s group to be gone', () => live(gate.pgid).length === 0, 5000, 20);
  });

  test('findExecutable searches PATH as execvp does: names on it, paths from the working directory, never a directory or a plain file', () => {
    const bin = join(dir, 'bin');
    mkdirSync(join(bin, 'a-dir'), { recursive: true });
    writeFileSync(join(bin, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
    writeFileSync(join(bin, 'plain'), 'text\n');
    chmodSync(join(bin, 'plain'), 0o644);
    assert.equal(findExecutable('tool', `/nonexistent:${bin}`, '/'), join(bin, 'tool'));
    assert.equal(findExecutable('./bin/tool', '/nonexistent', dir), join(bin, 'tool'));
    assert.equal(findExecutable('sh', '/usr/bin:/bin', '/') !== null, true);
    assert.equal(findExecutable('tool', '/usr/bin', dir), null);
    assert.equal(findExecutable('a-dir', bin, '/'), null);
    // root may read anything, but X_OK still needs an execute bit.
    assert.equal(findExecutable('plain', bin, '/'), null);
  });
});
