import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FleetError } from '../../src/errors.js';
import { lockStateDir, readHolder } from '../../src/store/state-lock.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

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
    assert.deepEqual(readHolder(join(dir, 'fleetcd.pid')), [String(process.pid), 'check']);
    unlock();
  });

  it('reads a lock file that vanished between the failed take and the read as "try again", not as an error', (t) => {
    const dir = tempDir('fleetcd-lock-');
    t.after(() => removeDir(dir));
    assert.equal(readHolder(join(dir, 'fleetcd.pid')), undefined);
  });
});
