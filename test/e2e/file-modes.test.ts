import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { RunList } from '../../src/api/schemas.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { waitFor } from '../helpers/wait.js';

/*
 * The record holds diffs, audit rows and gate output. Started under umask 000 (outside systemd, whose unit sets
 * UMask=0027), the daemon still creates the state directory 0750 and the database, its WAL, the lock file and
 * the run logs 0640.
 */

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

describe('file modes of the state directory', { timeout: 120_000 }, () => {
  let d: RunningDaemon;

  before(async () => {
    const previous = process.umask(0);
    try {
      d = await startDaemonFleet(
        {
          'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.ping:\n',
          'inventories/web.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
        },
        'reconcile: { mode: detect, interval: 1h }',
      );
    } finally {
      process.umask(previous);
    }
  });

  after(async () => {
    await d?.cleanup();
  });

  test('under umask 000 the state dir is 0750 and the database, its WAL, the lock and the run logs 0640', async () => {
    const run = await waitFor('the start-up check to end', async () => (await d.get<RunList>('/api/v1/runs')).runs.find((r) => r.finishedAt), 60_000, 200);
    const files = {
      [d.stateDir]: '750',
      [join(d.stateDir, 'logs')]: '750',
      [join(d.stateDir, 'fleetcd.db')]: '640',
      [join(d.stateDir, 'fleetcd.db-wal')]: '640',
      [join(d.stateDir, 'fleetcd.pid')]: '640',
      [join(d.stateDir, 'logs', `run-${run.id}.log`)]: '640',
    };
    assert.deepEqual(Object.fromEntries(Object.keys(files).map((path) => [path, modeOf(path)])), files);
  });
});
