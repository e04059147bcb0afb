/**
 * kill -9 of the daemon while a run (a local `sleep`) and a preview's policy gate (`sleep 60 & wait`) are
 * going: the time from the kill to the last process of each one's process group being gone, which the
 * watchdog in the group (src/runner/watchdog.ts) does without the daemon (issue 16: ≤ 5 s). Then a restart,
 * whose start-up run is the next round's run. Median of 5.
 *
 *   node --import tsx bench/orphan-kill.ts [--rounds 5]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunList } from '../src/api/schemas.js';
import Database from '../src/store/sqlite.js';
import { startDaemonFleet, type RunningDaemon } from '../test/helpers/running-daemon.js';
import { killGroups } from '../test/helpers/processes.js';
import { waitFor } from '../test/helpers/wait.js';
import { type BenchResult, commandLine, median, option, quick, round, series } from './lib.js';

const rounds = option('--rounds', 5, 1);
const gateMarker = `fleetcd-orphan-bench-${process.pid}`;

/** Live (not zombie) members of a process group, read from /proc without spawning ps (which would skew the timing). */
function members(pgid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // After the command's closing parenthesis: state, ppid, pgrp, …
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') found.push(Number(name));
    } catch {
      // gone while listed
    }
  }
  return found;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** The process group of the running run of `slow`, as its record names it, once its sleep is going. */
async function runGroup(d: RunningDaemon): Promise<number> {
  return waitFor('the run to sleep', async () => {
    const { runs } = await d.get<RunList>('/api/v1/runs?target=slow&limit=5');
    const run = runs.find((r) => r.status === 'running');
    if (!run) return undefined;
    const db = new Database(join(d.stateDir, 'fleetcd.db'), { readonly: true });
    try {
      const pgid = (db.prepare('SELECT pgid FROM runs WHERE id = ?').get(run.id) as { pgid: number | null } | undefined)?.pgid;
      return pgid && members(pgid).some((pid) => cmdline(pid) === 'sleep 319') ? pgid : undefined;
    } finally {
      db.close();
    }
  }, 60_000, 50);
}

/** A preview started (retried while a fresh daemon has no revision yet) and its gate's group once it sleeps. */
async function gateGroup(d: RunningDaemon): Promise<number> {
  await waitFor('a preview to be accepted', async () => (await d.post('/api/v1/previews', { ref: 'main' })).status === 202, 30_000, 100);
  return waitFor('the gate to sleep', () => {
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name) || !cmdline(Number(name)).endsWith(gateMarker)) continue;
      const pgid = Number(name);
      if (members(pgid).some((pid) => cmdline(pid) === 'sleep 60')) return pgid;
    }
    return undefined;
  }, 60_000, 50);
}

/** Milliseconds from `since` until `pgid` has no live member, polled every 5 ms (at most 30 s). */
async function goneAfter(pgid: number, since: number): Promise<number> {
  await waitFor(`group ${pgid} to be gone`, () => members(pgid).length === 0, 30_000, 5);
  return performance.now() - since;
}

const d = await startDaemonFleet(
  {
    'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.command: sleep 319\n      check_mode: false\n',
    'inventories/slow.yml': 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n',
  },
  ['reconcile: { mode: detect, interval: 1h }', 'gates:', `  - { name: long, timeout: 10m, command: [sh, -c, "sleep 60 & wait", ${gateMarker}] }`].join('\n'),
);
const runMs: number[] = [];
const gateMs: number[] = [];
const groups: number[] = [];
try {
  for (let n = 0; n < rounds; n++) {
    const [run, gate] = [await runGroup(d), await gateGroup(d)];
    groups.push(run, gate);
    const killedAt = performance.now();
    d.process.child.kill('SIGKILL');
    const [r, g] = await Promise.all([goneAfter(run, killedAt), goneAfter(gate, killedAt)]);
    runMs.push(r);
    gateMs.push(g);
    await d.process.exit();
    await d.restart();
  }
} finally {
  await d.cleanup();
  killGroups(groups);
}

const result: BenchResult = {
  id: 'orphan',
  title: 'A dead daemon’s process groups: kill -9 → the last process of a run’s and of a gate’s group gone (bench/orphan-kill.ts)',
  quick,
  command: commandLine('orphan-kill.ts'),
  figures: [
    { name: 'kill -9 → run group gone, median', value: round(median(runMs), 0), unit: 'ms', goal: { op: '<=', value: 5000 }, how: `max ${round(Math.max(...runMs), 0)} ms, n=${runMs.length}` },
    { name: 'kill -9 → gate group gone, median', value: round(median(gateMs), 0), unit: 'ms', goal: { op: '<=', value: 5000 }, how: `max ${round(Math.max(...gateMs), 0)} ms, n=${gateMs.length}` },
  ],
  series: [series('kill -9 → run group gone', 'ms', runMs, 0), series('kill -9 → gate group gone', 'ms', gateMs, 0)],
  notes: [
    'Timed from just before the SIGKILL to the group having no live (non-zombie) member, read from /proc every 5 ms; a run and a gate are killed at once.',
    'Before issue 16 neither group went by itself: a run’s waited for the next start, a gate’s (no record names it) for its own end.',
  ],
};
console.log(JSON.stringify(result, null, 2));
