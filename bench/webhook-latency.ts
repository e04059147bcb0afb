/**
 * From push to run start via webhook, against a daemon started in-process (startDaemon: real HTTP API,
 * SQLite, GitSource, reconciler, ansible-playbook on a local-connection inventory). Each round commits and
 * pushes to the origin, then POSTs a GitHub-signed push event and polls `GET /api/v1/runs` until a run of
 * the new commit has `startedAt`; it reports webhook → fetched and webhook → run started, then waits for
 * the run to finish before the next round.
 *
 *   node --import tsx bench/webhook-latency.ts [--rounds 10]
 */
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { parseConfig } from '../src/config/index.js';
import { startDaemon } from '../src/main.js';
import { createFleetRepo } from '../test/helpers/git.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { describeMs } from './lib.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 10;
const secret = 'bench-webhook-secret';
const final = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

type Run = { id: number; revision: string; status: string; startedAt: string | null };

const dir = tempDir('fleetcd-bench-webhook-');
const repo = await createFleetRepo({
  'inventories/local.yml': 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: /usr/bin/python3\n',
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n',
});
const secretFile = join(dir, 'webhook-secret');
writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
const config = parseConfig(
  {
    repository: { url: repo.origin, pollInterval: '1h', webhookSecretFile: secretFile },
    stateDir: join(dir, 'state'),
    api: { listen: '127.0.0.1:0' },
    reconcile: { interval: '1h' },
  },
  join(dir, 'fleetcd.yaml'),
);
const daemon = await startDaemon(config, pino({ level: 'silent' }));
const api = daemon.address;

async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${api}${path}`);
  return (await response.json()) as T;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const idle = (): Promise<true> =>
  waitFor(async () => ((await get<{ runs: Run[] }>('/api/v1/runs?limit=20')).runs.every((r) => final.has(r.status)) ? true : undefined), 120_000, 'idle');

try {
  await waitFor(async () => ((await get<{ runs: Run[] }>('/api/v1/runs')).runs.length > 0 ? true : undefined), 60_000, 'the startup run');
  await idle();
  const fetched: number[] = [];
  const started: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const sha = await repo.commit({ [`round-${round}.txt`]: `${round}\n` }, `round ${round}`);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const t0 = Date.now();
    const p0 = performance.now();
    const reply = await fetch(`${api}/api/v1/webhooks/git`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
      body,
    });
    if (reply.status !== 202) throw new Error(`webhook answered ${reply.status}: ${await reply.text()}`);
    await waitFor(async () => ((await get<{ sha: string }>('/api/v1/source')).sha === sha ? true : undefined), 10_000, 'the fetch');
    fetched.push(performance.now() - p0);
    const run = await waitFor(async () => {
      const { runs } = await get<{ runs: Run[] }>('/api/v1/runs?limit=20');
      return runs.find((r) => r.revision === sha && r.startedAt !== null);
    }, 30_000, 'the run to start');
    started.push(Date.parse(run.startedAt!) - t0);
    await idle();
  }
  console.log(`webhook → new revision fetched (seen in GET /api/v1/source): ${describeMs(fetched)}`);
  console.log(`webhook → run started (run.startedAt − time the webhook was sent): ${describeMs(started)}`);
} finally {
  await daemon.stop();
  repo.cleanup();
  removeDir(dir);
}
