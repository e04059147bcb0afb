import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { parseConfig, type Config } from '../../src/config/index.js';
import { Fleet } from '../../src/reconcile/fleet.js';
import type { Revision } from '../../src/source/index.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { RunStore } from '../../src/store/runs.js';
import type { RunDetail } from '../../src/store/types.js';
import { removeDir, tempDir } from './tmp.js';

export type TestFleet = {
  fleet: Fleet;
  store: RunStore;
  db: Db;
  config: Config;
  /** The revision's repo path (playbooks/, inventories/). */
  root: string;
  stateDir: string;
  /** Where the fleet's pino log lines go. */
  logFile: string;
  /** Every run of a reconcile chain, starting at `firstId`, once the fleet is idle. */
  chain(firstId: number): Promise<RunDetail[]>;
  cleanup(): Promise<void>;
};

/**
 * A real Fleet (real store, real runner, real ansible-playbook) whose revision is a plain folder holding
 * `files`: for reconcile tests that do not need git. `config` is merged into a minimal valid config.
 */
export function makeFleet(files: Record<string, string>, config: Record<string, unknown> = {}): TestFleet {
  const dir = tempDir('fleetcd-fleet-');
  const root = join(dir, 'repo');
  const stateDir = join(dir, 'state');
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(stateDir, { recursive: true });
  const parsed = parseConfig({ repository: { url: dir }, stateDir, ...config }, join(dir, 'fleetcd.yaml'));
  const db = openDatabase(join(stateDir, 'fleetcd.db'));
  const store = new RunStore(db);
  const logFile = join(dir, 'fleetcd.log');
  const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const fleet = new Fleet(parsed, store, log);
  const now = new Date().toISOString();
  const revision: Revision = {
    sha: 'c0ffee'.padEnd(40, '0'),
    ref: 'main',
    fetchedAt: now,
    subject: 'test',
    author: 'test <test@example.invalid>',
    committedAt: now,
    dir: root,
    root,
  };
  fleet.useRevision(revision);
  return {
    fleet,
    store,
    db,
    config: parsed,
    root,
    stateDir,
    logFile,
    async chain(firstId) {
      await fleet.reconciler.idle();
      const runs: RunDetail[] = [];
      for (let id: number | null = firstId; id !== null; id = runs.at(-1)?.followedBy ?? null) runs.push(fleet.run(id));
      return runs;
    },
    async cleanup() {
      await fleet.stop(2000);
      db.close();
      removeDir(dir);
    },
  };
}

/** A one-play playbook over all hosts with these tasks (YAML list items, already indented by 4). */
export function playbook(tasks: string, play = 'test play'): string {
  return `- name: ${play}\n  hosts: all\n  gather_facts: false\n  tasks:\n${tasks}`;
}

/** An inventory of local-connection hosts, each with its own sandbox `host_root` under `base`. */
export function localInventory(base: string, hosts: string[]): string {
  const lines = ['all:', '  vars:', '    ansible_connection: local', '    ansible_python_interpreter: /usr/bin/python3', '  hosts:'];
  for (const host of hosts) lines.push(`    ${host}:`, `      host_root: ${join(base, host)}`);
  return `${lines.join('\n')}\n`;
}
