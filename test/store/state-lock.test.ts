import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { FleetError } from '../../src/errors.js';
import { processStartTicks } from '../../src/process-start.js';
import { lockStateDir, readHolder } from '../../src/store/state-lock.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** A live process that is not fleetcd, as a reused pid would be after a crash and a reboot. */
function unrelatedProcess(t: { after: (fn: () => void) => void }): number {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  assert.ok(child.pid);
  return child.pid;
}

describe('the state directory lock', () => {
  it('is taken, refused to a second taker naming the holder, and released', (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    const unlock = lockStateDir(dir, 'serve');
    assert.throws(
      () => lockStateDir(dir, 'check'),
      (error: unknown) =>
        error instanceof FleetError &&
        error.reason === 'conflict' &&
        error.message === `${dir} is in use by fleetcd serve (pid ${process.pid}); ask it with \`fleetcd reconcile\` instead`,
    );
    unlock();
    lockStateDir(dir, 'check')();
  });

  it('takes over a lock left by a process that no longer exists', (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    writeFileSync(join(dir, 'fleetcd.pid'), '2147483646 serve\n');
    const unlock = lockStateDir(dir, 'check');
    assert.deepEqual(readHolder(join(dir, 'fleetcd.pid')), [String(process.pid), 'check', String(processStartTicks(process.pid))]);
    unlock();
  });

  it('takes over a lock whose pid is alive but is another process than the one that wrote it (a reused pid)', (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    const pid = unrelatedProcess(t);
    const ticks = processStartTicks(pid);
    assert.ok(ticks !== null);
    writeFileSync(join(dir, 'fleetcd.pid'), `${pid} serve ${ticks + 1}\n`);
    const unlock = lockStateDir(dir, 'serve');
    assert.deepEqual(readHolder(join(dir, 'fleetcd.pid')), [String(process.pid), 'serve', String(processStartTicks(process.pid))]);
    unlock();
  });

  it('takes over a lock without a start time (an older fleetcd wrote it) whose live pid is not fleetcd', (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    writeFileSync(join(dir, 'fleetcd.pid'), `${unrelatedProcess(t)} serve\n`);
    lockStateDir(dir, 'check')();
  });

  it('is refused while another live fleetcd process holds it, and freed when that process exits', async (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    const lockModule = fileURLToPath(new URL('../../src/store/state-lock.ts', import.meta.url));
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', `import { lockStateDir } from ${JSON.stringify(lockModule)}; lockStateDir(${JSON.stringify(dir)}, 'serve'); console.log('held'); process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`],
      { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['pipe', 'pipe', 'inherit'] },
    );
    t.after(() => holder.kill('SIGKILL'));
    await once(holder.stdout, 'data');
    assert.throws(
      () => lockStateDir(dir, 'check'),
      (error: unknown) => error instanceof FleetError && error.reason === 'conflict' && error.message.includes(`in use by fleetcd serve (pid ${holder.pid})`),
    );
    holder.stdin.end();
    await once(holder, 'exit');
    assert.equal(existsSync(join(dir, 'fleetcd.pid')), false, 'the holder removed its lock as it exited');
    await waitFor('the lock to be free', () => {
      lockStateDir(dir, 'check')();
      return true;
    }, 5000);
  });

  it('reads a lock file that vanished between the failed take and the read as "try again", not as an error', (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    assert.equal(readHolder(join(dir, 'fleetcd.pid')), undefined);
  });
});
