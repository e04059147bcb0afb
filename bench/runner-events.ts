/**
 * How fast the runner ingests Ansible's events, and whether the daemon's memory grows with a run's size.
 *
 * Two measurements, both through the real Fleet (runner, event pipe, SQLite store):
 * - `ingest`: ansible-playbook replaced (via PATH, for this process only) by a producer that writes EVENTS
 *   result events to fd 3 as fast as it can, in the callback plugin's format: the runner's own ceiling.
 * - `ansible`: a real check of HOSTS local hosts × TASKS debug tasks: what Ansible itself delivers.
 *
 *   node --import tsx bench/runner-events.ts                  # ingest 100k events, then ansible 10 × 100
 *   EVENTS=20000 HOSTS=20 TASKS=50 node --import tsx bench/runner-events.ts
 *   node --import tsx bench/runner-events.ts --only ingest --events 25000   # the synthetic producer alone
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeFleet } from '../test/helpers/fleet.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const only = flag('--only');
const events = Number(flag('--events') ?? process.env.EVENTS ?? 100_000);
const hosts = Number(process.env.HOSTS ?? 10);
const tasks = Number(process.env.TASKS ?? 100);

/** A stand-in for ansible-playbook that emits `count` events like fleetcd_events.py does, then a recap. */
const producer = (count: number): string => `#!/usr/bin/python3
import json, os
out = os.fdopen(int(os.environ['FLEETCD_EVENT_FD']), 'w', buffering=1 << 16)
hosts = 100
for i in range(${count}):
    status = 'changed' if i % 10 == 0 else 'ok'
    ev = {"event": status, "uuid": "u%d" % (i // hosts), "host": "h%d" % (i % hosts), "task": "task %d" % (i // hosts),
          "action": "ansible.builtin.copy", "path": "/repo/playbooks/site.yml:%d" % (i // hosts), "duration": 0.01,
          "ignored": False, "msg": None, "skip_reason": None, "censored": False, "item": None,
          "diff": [{"before": "old line %d\\n" % i, "after": "new line %d\\n" % i}] if status == 'changed' else None}
    out.write(json.dumps(ev) + "\\n")
stats = {"h%d" % h: {"ok": ${count} // hosts, "changed": ${count} // hosts // 10, "failures": 0, "unreachable": 0, "skipped": 0, "rescued": 0, "ignored": 0} for h in range(hosts)}
out.write(json.dumps({"event": "stats", "hosts": stats}) + "\\n")
out.flush()
print("PLAY RECAP (synthetic)")
`;

type Result = { events: number; seconds: number; eventsPerSecond: number; rssBaselineMiB: number; rssPeakMiB: number; rssGrowthMiB: number; status: string };

async function measure(files: Record<string, string>, config: Record<string, unknown>): Promise<Result> {
  const f = await makeFleet(files, { config });
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const started = Date.now();
  const { id } = f.fleet.reconcile(['bench'], { trigger: 'cli', mode: 'check' })[0]!;
  await f.fleet.reconciler.idle();
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const status = f.fleet.run(id!).status;
  const stored = (f.db.prepare('SELECT COUNT(*) AS n FROM run_tasks WHERE run_id = ?').get(id) as { n: number }).n;
  await f.cleanup();
  const mib = (bytes: number): number => Number((bytes / 1024 / 1024).toFixed(1));
  return {
    status,
    events: stored,
    seconds: Number(seconds.toFixed(2)),
    eventsPerSecond: Math.round(stored / seconds),
    rssBaselineMiB: mib(baseline),
    rssPeakMiB: mib(peak),
    rssGrowthMiB: mib(peak - baseline),
  };
}

const inventory = (n: number): string =>
  `all:\n  vars: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n  hosts:\n${Array.from({ length: n }, (_, i) => `    h${i}:\n`).join('')}`;

const bin = tempDir('fleetcd-bench-bin-');
mkdirSync(bin, { recursive: true });
writeFileSync(join(bin, 'ansible-playbook'), producer(events));
chmodSync(join(bin, 'ansible-playbook'), 0o755);
const realPath = process.env.PATH;
process.env.PATH = `${bin}:${realPath}`;
const ingest = await measure({ 'playbooks/site.yml': '[]\n', 'inventories/bench.yml': inventory(1) }, {});
process.env.PATH = realPath;
removeDir(bin);

if (only === 'ingest') {
  console.log(JSON.stringify({ ingest }, null, 2));
  process.exit(0);
}

const taskList = Array.from({ length: tasks }, (_, i) => `    - name: task ${i}\n      ansible.builtin.debug: { msg: "event ${i}" }\n`).join('');
const ansible = await measure(
  { 'playbooks/site.yml': `- hosts: all\n  gather_facts: false\n  strategy: free\n  tasks:\n${taskList}`, 'inventories/bench.yml': inventory(hosts) },
  { reconcile: { timeout: '1h' }, targets: { bench: { forks: 10 } } },
);
console.log(JSON.stringify({ ingest, ansible: { hosts, tasks, ...ansible } }, null, 2));
