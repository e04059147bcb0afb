/**
 * The fleet view at size: 200 targets of 10 hosts with 50 recorded runs each (10,000 runs). Measures
 * `GET /api/v1/status` (autocannon, 5 s, from another process) and the wall time of `fleetcd status` (a new
 * Node process each time, as a person runs it), median of 5.
 *
 *   node --import tsx bench/status-scale.ts [--targets 200]
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { localInventory, makeFleet, playbook } from '../test/helpers/fleet.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { median } from './lib.js';

const args = process.argv.slice(2);
const targets = Number(args[args.indexOf('--targets') + 1]) || 200;
const runsPerTarget = 50;

const dir = tempDir('fleetcd-bench-status-');
const files: Record<string, string> = { 'playbooks/site.yml': playbook('    - ansible.builtin.debug: { msg: hi }\n') };
for (let t = 0; t < targets; t++) files[`inventories/t${t}.yml`] = localInventory(dir, Array.from({ length: 10 }, (_, h) => `t${t}h${h}`));
const f = await makeFleet(files);
try {
  const recap = (changed: number) => ({ ok: 3, changed, failed: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 });
  f.db.transaction(() => {
    for (let r = 0; r < runsPerTarget; r++) {
      for (let t = 0; t < targets; t++) {
        const id = f.store.create({ target: `t${t}`, kind: r % 5 === 4 ? 'apply' : 'check', trigger: 'schedule', revision: f.revision!.sha });
        f.store.start(id, f.revision!.sha, null);
        const hosts = new Map(Array.from({ length: 10 }, (_, h) => [`t${t}h${h}`, recap(h === 0 ? 1 : 0)] as const));
        f.store.finish(id, { status: 'succeeded', exitCode: 0, error: null, hosts });
      }
    }
  })();
  await f.api.listen({ host: '127.0.0.1', port: 0 });
  const { port } = f.api.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const bytes = (await (await fetch(`${url}/api/v1/status`)).text()).length;
  const load = spawn(process.execPath, [join('node_modules', 'autocannon', 'autocannon.js'), '--json', '-c', '1', '-d', '5', `${url}/api/v1/status`], { stdio: ['ignore', 'pipe', 'ignore'] });
  let report = '';
  load.stdout.on('data', (chunk) => (report += String(chunk)));
  await new Promise((resolve) => load.on('exit', resolve));
  const api = JSON.parse(report) as { latency: { p50: number; p99: number; max: number }; requests: { total: number }; errors: number };
  // The API answers from this process: the CLI must run beside it, not block it (no spawnSync).
  const cli: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, ['bin/fleetcd', 'status', '--server', url], { stdio: ['ignore', 'ignore', 'pipe'] });
    const [code] = (await once(child, 'exit')) as [number | null];
    if (code !== 0) throw new Error(`fleetcd status exited ${code}`);
    cli.push(Number((process.hrtime.bigint() - started) / 1_000_000n));
  }
  const node: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    node.push(Number((process.hrtime.bigint() - started) / 1_000_000n));
  }
  console.log(
    JSON.stringify(
      {
        targets,
        runs: targets * runsPerTarget,
        statusBytes: bytes,
        apiStatus: { p50ms: api.latency.p50, p99ms: api.latency.p99, maxms: api.latency.max, requests: api.requests.total, errors: api.errors },
        cliStatusMs: { median: median(cli), all: cli },
        nodeStartMs: { median: median(node) },
      },
      null,
      2,
    ),
  );
} finally {
  await f.cleanup();
  removeDir(dir);
}
