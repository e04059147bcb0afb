/**
 * What a poll costs when nothing changed: GitSource.fetch() against an unchanged remote, 20 times after a
 * warm-up, over a local path (file transport) and over ssh:// through a local sshd (as the tests start one).
 * `openSource` is also what bench/ansible-pull.ts times against `ansible-pull -o`.
 *
 *   node --import tsx bench/source-fetch.ts [--runs 20] [--no-ssh] [--json]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/index.js';
import { GitSource } from '../src/source/index.js';
import { openDatabase } from '../src/store/db.js';
import { SqliteSourceHistory } from '../src/store/source-history.js';
import { createFleetRepo } from '../test/helpers/git.js';
import { startSshHosts } from '../test/helpers/sshd.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { median } from './lib.js';

/** A GitSource as the daemon builds it (its own state dir and record); `fetch` resolves with the tip's sha. */
export function openSource(repository: Record<string, unknown>): { fetch(): Promise<string>; close(): void } {
  const dir = tempDir('fleetcd-bench-');
  const db = openDatabase(join(dir, 'state', 'fleetcd.db'));
  const config = parseConfig({ repository, stateDir: join(dir, 'state') }, join(dir, 'fleetcd.yaml'));
  const source = new GitSource(config.repository, config.stateDir, { history: new SqliteSourceHistory(db) });
  return {
    fetch: async () => (await source.fetch()).sha,
    close() {
      db.close();
      removeDir(dir);
    },
  };
}

type Measured = { label: string; firstMs: number; medianMs: number; minMs: number; maxMs: number; samples: number[] };

async function measure(label: string, repository: Record<string, unknown>, runs: number): Promise<Measured> {
  const source = openSource(repository);
  try {
    const first = performance.now();
    const sha = await source.fetch();
    const firstMs = performance.now() - first;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const again = await source.fetch();
      times.push(performance.now() - start);
      if (again !== sha) throw new Error('the tip moved during the benchmark');
    }
    const r = (ms: number): number => Number(ms.toFixed(1));
    return { label, firstMs: r(firstMs), medianMs: r(median(times)), minMs: r(Math.min(...times)), maxMs: r(Math.max(...times)), samples: times.map(r) };
  } finally {
    source.close();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf('--runs') + 1]) || 20;
  const withSsh = !args.includes('--no-ssh');
  const json = args.includes('--json');
  const repo = await createFleetRepo({
    'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks: []\n',
    'inventories/web.yml': 'all:\n  hosts:\n    web1: {}\n',
  });
  const results: Measured[] = [];
  try {
    for (let i = 0; i < 30; i++) await repo.commit({ [`roles/r${i}/tasks/main.yml`]: `- debug: msg=${i}\n` }, `commit ${i}`);
    results.push(await measure(`local path (${repo.origin})`, { url: repo.origin }, runs));
    results.push(await measure('file:// URL', { url: `file://${repo.origin}` }, runs));
    if (withSsh) {
      const hosts = await startSshHosts(1);
      try {
        results.push(
          await measure(
            'ssh:// via local sshd',
            { url: `ssh://root@127.0.0.1:${hosts.hosts[0]!.port}${repo.origin}`, sshKeyFile: hosts.keyFile, knownHostsFile: hosts.knownHostsFile },
            runs,
          ),
        );
      } finally {
        await hosts.stop();
      }
    }
  } finally {
    repo.cleanup();
  }
  if (json) {
    console.log(JSON.stringify({ runs, results }, null, 2));
    return;
  }
  for (const m of results) {
    console.log(`${m.label}: first fetch ${m.firstMs} ms; unchanged fetch median ${m.medianMs} ms (min ${m.minMs}, max ${m.maxMs}, n=${runs})`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
