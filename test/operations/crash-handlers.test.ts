import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { processes } from '../helpers/processes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The process-level handlers, installed the way `fleetcd serve` installs them, in a real Node process that then
 * fails the way a bug would: an exception thrown in a run's callback, or a rejection nobody handles. No genuine
 * path to either is left in the daemon (that would be a bug to fix), so the child provokes them itself.
 */

const src = fileURLToPath(new URL('../../src/', import.meta.url));

function childScript(failure: 'throw' | 'reject', marker: string): string {
  return `
import { spawn } from 'node:child_process';
import { installCrashHandlers } from ${JSON.stringify(join(src, 'crash.ts'))};
import { withRun } from ${JSON.stringify(join(src, 'fatal.ts'))};
import { createLogger } from ${JSON.stringify(join(src, 'log.ts'))};
import { GroupSupervisor } from ${JSON.stringify(join(src, 'runner/process-group.ts'))};

installCrashHandlers(createLogger('info'));
// A run's process group, detached as runs' are: the crash must take it along.
const child = spawn('sh', ['-c', 'sleep 3172 & wait', ${JSON.stringify(marker)}], { detached: true, stdio: 'ignore' });
new GroupSupervisor(child.pid, { timeoutMs: 600_000, killGraceMs: 5000 });
process.stdout.write(JSON.stringify({ pgid: child.pid }) + '\\n');
setTimeout(() => {
  withRun({ runId: 42, target: 'web' }, () => {
    ${failure === 'throw' ? "setImmediate(() => { throw new TypeError('boom in a run callback'); });" : "void Promise.reject(new Error('rejected in a run'));"}
  });
}, 300);
setInterval(() => undefined, 1000);
`;
}

type Crash = { code: number | null; lines: Array<Record<string, unknown>>; pgid: number };

async function crashChild(dir: string, failure: 'throw' | 'reject'): Promise<Crash> {
  const marker = `fleetcd-crash-test-${process.pid}-${failure}`;
  const file = join(dir, `${failure}.mts`);
  writeFileSync(file, childScript(failure, marker));
  const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const pgid = (JSON.parse(out.split('\n')[0] || '{"pgid":0}') as { pgid: number }).pgid;
  const lines = err
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(pgid > 0, `the child started its group: ${out}${err}`);
  return { code, lines, pgid };
}

describe('process-level crash handlers', { timeout: 120_000 }, () => {
  const dir = tempDir('fleetcd-crash-');
  after(() => removeDir(dir));

  for (const [failure, message, what] of [
    ['throw', 'boom in a run callback', 'uncaught exception'],
    ['reject', 'rejected in a run', 'unhandled rejection'],
  ] as const) {
    test(`an ${what} is logged once with its stack and run, the run's process group is killed, and the exit is 70`, async () => {
      const crash = await crashChild(dir, failure);
      assert.equal(crash.code, 70, JSON.stringify(crash.lines));
      const fatal = crash.lines.filter((line) => line.level === 60);
      assert.equal(fatal.length, 1, JSON.stringify(crash.lines));
      const [line] = fatal;
      assert.equal(line!.err, message);
      assert.match(String(line!.stack), new RegExp(`${message}\\n\\s+at `));
      assert.equal(line!.runId, 42);
      assert.equal(line!.target, 'web');
      assert.match(String(line!.msg), new RegExp(`^${what}`));
      assert.deepEqual(line!.killedGroups, [crash.pgid]);
      await waitFor('the group to be gone', () => !processes().some((p) => p.pgid === crash.pgid && !p.stat.startsWith('Z')), 10_000, 100);
    });
  }
});
