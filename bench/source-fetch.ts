/**
 * What a poll costs when nothing changed: GitSource.fetch() against an unchanged remote, 20 times after a
 * warm-up, over a local path (file transport) and over ssh:// through a local sshd (as the tests start one).
 *
 *   node --import tsx bench/source-fetch.ts [--runs 20] [--no-ssh]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/config/index.js';
import { GitSource } from '../src/source/index.js';
import { openDatabase } from '../src/store/db.js';
import { SqliteSourceHistory } from '../src/store/source-history.js';
import { createFleetRepo } from '../test/helpers/git.js';
import { startSshHosts } from '../test/helpers/sshd.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) || 20;
const withSsh = !args.includes('--no-ssh');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function measure(label: string, repository: Record<string, unknown>): Promise<void> {
  const dir = tempDir('fleetcd-bench-');
  const db = openDatabase(join(dir, 'state', 'fleetcd.db'));
  try {
    const config = parseConfig({ repository, stateDir: join(dir, 'state') }, join(dir, 'fleetcd.yaml'));
    const source = new GitSource(config.repository, config.stateDir, { history: new SqliteSourceHistory(db) });
    const first = performance.now();
    const revision = await source.fetch();
    const initial = performance.now() - first;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const again = await source.fetch();
      times.push(performance.now() - start);
      if (again.sha !== revision.sha) throw new Error('the tip moved during the benchmark');
    }
    const fmt = (ms: number): string => ms.toFixed(1);
    console.log(
      `${label}: first fetch ${fmt(initial)} ms; unchanged fetch median ${fmt(median(times))} ms ` +
        `(min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))}, n=${runs})`,
    );
  } finally {
    db.close();
    removeDir(dir);
  }
}

const repo = await createFleetRepo({
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks: []\n',
  'inventories/web.yml': 'all:\n  hosts:\n    web1: {}\n',
});
try {
  for (let i = 0; i < 30; i++) await repo.commit({ [`roles/r${i}/tasks/main.yml`]: `- debug: msg=${i}\n` }, `commit ${i}`);
  await measure(`local path (${repo.origin})`, { url: repo.origin });
  await measure('file:// URL', { url: `file://${repo.origin}` });
  if (withSsh) {
    const hosts = await startSshHosts(1);
    try {
      await measure('ssh:// via local sshd', {
        url: `ssh://root@127.0.0.1:${hosts.hosts[0]!.port}${repo.origin}`,
        sshKeyFile: hosts.keyFile,
        knownHostsFile: hosts.knownHostsFile,
      });
    } finally {
      await hosts.stop();
    }
  }
} finally {
  repo.cleanup();
}
