/**
 * Retention at size: a record of 10,000 runs (10 targets × 1,000 runs, 10 hosts × 2 tasks each, a log file
 * each) is pruned to 100 runs per target while a separate process (autocannon) reads the API. Reports the
 * database size before and after, runs pruned per second, and the API's latency during the pass.
 *
 *   node --import tsx bench/retention.ts [--runs 10000]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { localInventory, makeFleet, playbook } from '../test/helpers/fleet.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';

const args = process.argv.slice(2);
const total = Number(args[args.indexOf('--runs') + 1]) || 10_000;
const targets = 10;
const keep = 100;

function sizeMiB(file: string): number {
  const bytes = ['', '-wal'].reduce((sum, suffix) => {
    try {
      return sum + statSync(file + suffix).size;
    } catch {
      return sum;
    }
  }, 0);
  return Number((bytes / 1024 / 1024).toFixed(1));
}

async function main(): Promise<void> {
  const dir = tempDir('fleetcd-bench-retention-');
  const files: Record<string, string> = { 'playbooks/site.yml': playbook('    - ansible.builtin.debug: { msg: hi }\n') };
  for (let t = 0; t < targets; t++) files[`inventories/t${t}.yml`] = localInventory(dir, [`t${t}h0`]);
  const f = await makeFleet(files, { config: { retention: { maxAge: '3650d', maxRunsPerTarget: keep } } });
  try {
    const insertRun = f.db.prepare(
      `INSERT INTO runs (target, kind, trigger, revision, status, queued_at, started_at, finished_at, hosts, ok, changed)
       VALUES (?, 'check', 'schedule', ?, 'succeeded', ?, ?, ?, 10, 20, 1)`,
    );
    const insertHost = f.db.prepare(`INSERT INTO run_hosts (run_id, host, ok, changed) VALUES (?, ?, 2, 0)`);
    const insertTask = f.db.prepare(
      `INSERT INTO run_tasks (run_id, host, task, module, path, status, duration_ms, message, diff) VALUES (?, ?, ?, 'ansible.builtin.copy', 'site.yml:3', ?, 40, NULL, ?)`,
    );
    const diff = JSON.stringify([{ before: 'version = 1\n'.repeat(20), after: 'version = 2\n'.repeat(20), before_header: '/etc/app.conf' }]);
    mkdirSync(join(f.stateDir, 'logs'), { recursive: true });
    const started = Date.now() - total * 60_000;
    f.db.transaction(() => {
      for (let i = 0; i < total; i++) {
        const at = new Date(started + i * 60_000).toISOString();
        const id = Number(insertRun.run(`t${i % targets}`, 'a'.repeat(40), at, at, at).lastInsertRowid);
        for (let h = 0; h < 10; h++) {
          insertHost.run(id, `h${h}`);
          insertTask.run(id, `h${h}`, 'app config', h === 0 ? 'changed' : 'ok', h === 0 ? diff : null);
          insertTask.run(id, `h${h}`, 'app service', 'ok', null);
        }
      }
    })();
    for (let i = 1; i <= total; i++) writeFileSync(join(f.stateDir, 'logs', `run-${i}.log`), 'PLAY RECAP\n'.repeat(50));
    f.db.pragma('wal_checkpoint(TRUNCATE)');
    const dbFile = join(f.stateDir, 'fleetcd.db');
    const before = sizeMiB(dbFile);

    await f.api.listen({ host: '127.0.0.1', port: 0 });
    const { port } = f.api.server.address() as AddressInfo;
    const load = spawn(process.execPath, [
      join('node_modules', 'autocannon', 'autocannon.js'),
      '--json', '-c', '4', '-d', '4',
      `http://127.0.0.1:${port}/api/v1/runs?limit=50`,
    ], { stdio: ['ignore', 'pipe', 'ignore'] });
    let report = '';
    load.stdout.on('data', (chunk) => (report += String(chunk)));
    const exited = new Promise((resolve) => load.on('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const t0 = Date.now();
    const result = await f.fleet.pruner.prune();
    const seconds = (Date.now() - t0) / 1000;
    await exited;
    const latency = report ? (JSON.parse(report) as { latency: { p50: number; p99: number; max: number }; errors: number; requests: { total: number } }) : undefined;
    const after = sizeMiB(dbFile);
    const left = (f.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
    const integrity = f.db.pragma('integrity_check', { simple: true });
    console.log(
      JSON.stringify(
        {
          runs: total,
          pruned: result.runs,
          left,
          seconds: Number(seconds.toFixed(2)),
          runsPrunedPerSecond: Math.round(result.runs / seconds),
          pagesFreed: result.pages,
          dbMiBBefore: before,
          dbMiBAfter: after,
          integrity,
          apiDuringPruning: latency && { p50ms: latency.latency.p50, p99ms: latency.latency.p99, maxms: latency.latency.max, errors: latency.errors, requests: latency.requests.total },
        },
        null,
        2,
      ),
    );
  } finally {
    await f.cleanup();
    removeDir(dir);
  }
}

await main();
