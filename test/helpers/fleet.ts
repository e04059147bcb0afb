import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { loadTokens } from '../../src/api/auth.js';
import { allowedHostsOf } from '../../src/api/hosts.js';
import { buildApi } from '../../src/api/server.js';
import { AuditLog } from '../../src/store/audit.js';
import { WebhookDeliveries } from '../../src/store/webhook-deliveries.js';
import { parseConfig, type Config } from '../../src/config/index.js';
import type { Fleet, FleetStores } from '../../src/reconcile/fleet.js';
import { openFleet } from '../../src/reconcile/open.js';
import type { GitSource, Revision } from '../../src/source/index.js';
import type { Db } from '../../src/store/db.js';
import type { RunStore } from '../../src/store/runs.js';
import type { RunDetail } from '../../src/store/types.js';
import { removeDir, tempDir } from './tmp.js';
import { waitFor } from './wait.js';

/** The token every test API accepts. */
export const apiToken = 'api-token-for-tests';

export type TestFleet = {
  fleet: Fleet;
  stores: FleetStores;
  store: RunStore;
  db: Db;
  config: Config;
  source: GitSource;
  /** The API around the fleet (not listening): drive it with inject(). */
  api: FastifyInstance;
  /** The test's own temp dir. */
  dir: string;
  /** The revision's repo path (playbooks/, inventories/), for fleets on a plain folder. */
  root: string;
  /** The plain-folder revision in use (fleets without a repository). */
  revision: Revision | undefined;
  stateDir: string;
  /** Where the fleet's pino log lines go. */
  logFile: string;
  /** Every run of a reconcile chain, starting at `firstId`, once the fleet is idle. */
  chain(firstId: number): Promise<RunDetail[]>;
  /** Stops the fleet and the API, closes the record, removes the temp dir. Safe to call twice. */
  cleanup(): Promise<void>;
};

export type FleetOptions = {
  /** Merged into the config file's top level. */
  config?: Record<string, unknown>;
  /** Watch this repository (merged into `repository:`) instead of using a plain folder as the revision. */
  repository?: Record<string, unknown>;
  /** A temp dir of the caller's instead of a new one (not removed by cleanup). */
  dir?: string;
};

/**
 * A real Fleet, opened the way the daemon opens it (lock, record, source), with the API around it. With
 * `files`, its revision is a plain folder holding them (reconcile tests that need no git); with
 * `options.repository`, it watches that repository and resolves once the first fetch is done.
 */
export async function makeFleet(files: Record<string, string> | undefined, options: FleetOptions = {}): Promise<TestFleet> {
  const dir = options.dir ?? tempDir('fleetcd-fleet-');
  const root = join(dir, 'repo');
  const stateDir = join(dir, 'state');
  for (const [path, content] of Object.entries(files ?? {})) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  const tokenFile = join(dir, 'api-token');
  writeFileSync(tokenFile, `${apiToken}\n`, { mode: 0o600 });
  const repository = options.repository ? { pollInterval: '1h', ...options.repository } : { url: join(dir, 'origin.git') };
  const config = parseConfig({ repository, stateDir, api: { tokenFile }, ...options.config }, join(dir, 'fleetcd.yaml'));
  const logFile = join(dir, 'fleetcd.log');
  const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const opened = await openFleet(config, log, 'test');
  const { fleet, stores, source, db } = opened;
  const tokens = loadTokens(config.api);
  const allowedHosts = allowedHostsOf(config.api);
  const api = buildApi({
    fleet,
    log,
    tokens: () => tokens,
    requireReadToken: () => config.api.requireReadToken,
    allowedHosts: () => allowedHosts,
    audit: new AuditLog(db),
    deliveries: new WebhookDeliveries(db),
    repository: () => config.repository,
    previews: () => config.previews,
    checkResponses: true,
  });
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      await fleet.stop(2000);
      await api.close();
      opened.close();
      if (!options.dir) removeDir(dir);
    })());
  const revision = options.repository ? undefined : folderRevision(root);
  try {
    await api.ready();
    if (revision) {
      fleet.useRevision(revision);
    } else {
      fleet.watch(source);
      await waitFor('the first fetch', () => fleet.sourceView().lastFetchAt !== null, 30_000, 5);
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    fleet,
    stores,
    store: stores.runs,
    db,
    config,
    source,
    api,
    dir,
    root,
    revision,
    stateDir,
    logFile,
    async chain(firstId) {
      await fleet.reconciler.idle();
      const runs: RunDetail[] = [];
      for (let id: number | null = firstId; id !== null; id = runs.at(-1)?.followedBy ?? null) runs.push(fleet.run(id));
      return runs;
    },
    cleanup,
  };
}

/** A plain folder standing in for a checked-out commit. */
function folderRevision(root: string): Revision {
  const now = new Date().toISOString();
  return {
    sha: 'c0ffee'.padEnd(40, '0'),
    ref: 'main',
    fetchedAt: now,
    subject: 'test',
    author: 'test <test@example.invalid>',
    committedAt: now,
    dir: root,
    root,
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
