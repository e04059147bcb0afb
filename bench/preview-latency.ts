/**
 * Issue 11's figure: from a pull-request webhook to the commit status on the forge, over the demo fleet (the
 * repository scripts/demo.ts makes from this checkout's playbooks/ and inventories/: web1, web2 and db1, local
 * connection, each a sandbox folder). `fleetcd serve` (bin/fleetcd runs the built dist/: `npm run build` after
 * changing src/) applies the fleet, with previews.fromWebhooks and comments on and a GitHub-type forge on
 * 127.0.0.1 that records what it receives. Each round, one at a time, pushes a commit to the pull request's
 * branch and refs/pull/1/head that changes `web_workers` (web.conf on web1 and web2 would change), POSTs a
 * GitHub-signed `pull_request` (opened, then synchronize) and times, from the POST, the forge receiving the
 * first `pending` status and the final one (`success`/`failure`) for the head, and reads the preview's own
 * createdAt → finishedAt from GET /api/v1/previews/:id. Everything listens on 127.0.0.1.
 *
 *   node --import tsx bench/preview-latency.ts --rounds 5 [--json]
 */
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { RunDetail, StatusView } from '../src/api/schemas.js';
import type { PreviewView } from '../src/reconcile/previews.js';
import { git, makeFleetRepo } from '../scripts/demo.js';
import { startLoopbackForge, type LoopbackForge } from '../test/forge/loopback-forge.js';
import { githubPullRequest } from '../test/forge/payloads.js';
import { freePort, getJson, spawnDaemon, type DaemonProcess } from '../test/helpers/daemon.js';
import { processesMentioning } from '../test/helpers/processes.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { GiveUp, waitFor } from '../test/helpers/wait.js';
import { commandLine, emit, type Figure, median, onCleanup, option, progress, round, runBench, series } from './lib.js';

const rounds = option('--rounds', 5, 2);
const json = process.argv.includes('--json');
const secret = 'bench-preview-webhook-secret';
const forgeToken = 'bench-preview-forge-token';
const pullNumber = 1;
const branch = 'bench/preview';
const finalStates = new Set(['success', 'failure']);
/** Other work on the cores shows in every figure: said with them. */
const load = `load average ${loadavg()[0]!.toFixed(1)} at start, ${cpus().length} cores`;

/** One round's times in ms, each from the moment the webhook POST was sent. */
type Round = {
  round: number;
  action: 'opened' | 'synchronize';
  sha: string;
  preview: number;
  /** The 202 answer. */
  answered: number;
  pending: number;
  final: number;
  finalState: string;
  description: string;
  /** The preview's createdAt → finishedAt. */
  previewOwn: number;
  /** createdAt: the preview recorded. */
  created: number;
  /** The final status received − the preview's finishedAt: the forge poster's share. */
  afterFinished: number;
  /** Statuses GitHub got as `pending` (queued, then running, which GitHub spells pending too). */
  pendingPosts: number;
  /** The preview's check run: recorded (after the ref's fetch and checkout), started, finished. */
  runQueued: number;
  runStarted: number;
  runFinished: number;
};

type Bench = { dir: string; base: string; work: string; forge: LoopbackForge; daemon: DaemonProcess };

/** Temp dir, the demo fleet's repository, the forge, and `fleetcd serve` once it has applied the fleet. */
async function setUp(): Promise<Bench> {
  const dir = tempDir('fleetcd-bench-preview-');
  onCleanup(() => removeDir(dir));
  const { origin, work } = makeFleetRepo(dir);
  const forge = await startLoopbackForge(forgeToken);
  onCleanup(() => forge.close());
  const port = await freePort();
  const file = (name: string, content: string): string => {
    writeFileSync(join(dir, name), `${content}\n`, { mode: 0o600 });
    return JSON.stringify(join(dir, name));
  };
  const config = join(dir, 'fleetcd.yaml');
  writeFileSync(
    config,
    `repository: { url: ${JSON.stringify(origin)}, branch: main, pollInterval: 1h, webhookSecretFile: ${file('webhook-secret', secret)} }
stateDir: ${JSON.stringify(join(dir, 'state'))}
api: { listen: "127.0.0.1:${port}", tokenFile: ${file('api-token', 'bench-api-token')} }
reconcile: { mode: detect, interval: 1h, concurrency: 2 }
targets: { demo: { mode: apply, extraVars: { demo_root: ${JSON.stringify(join(dir, 'hosts'))} } } }
previews: { fromWebhooks: true, comment: true, forge: { type: github, url: "${forge.url}", tokenFile: ${file('forge-token', forgeToken)} } }
`,
  );
  const daemon = spawnDaemon(config, { FLEETCD_LOG_LEVEL: 'info' });
  onCleanup(() => stopDaemon(daemon, dir));
  const base = `http://127.0.0.1:${port}`;
  progress('fleetcd serve: cloning the demo fleet and applying it');
  await waitFor('the demo fleet applied and in sync', async () => {
    if (daemon.child.exitCode !== null) throw new Error(`fleetcd serve exited ${daemon.child.exitCode}:\n${daemon.output().slice(-4000)}`);
    const demo = (await getJson<StatusView>(base, '/api/v1/status')).targets.find((t) => t.name === 'demo');
    return demo && !demo.running && demo.status === 'in-sync' && demo.lastApplyAt !== null;
  }, 180_000, 200).catch((error: Error) => {
    throw withLog(error, daemon);
  });
  return { dir, base, work, forge, daemon };
}

/** The error with the daemon's last lines of log, for a failure to explain itself. */
function withLog(error: Error, daemon: DaemonProcess): Error {
  return new Error(`${error.message}\n--- fleetcd serve, last lines:\n${daemon.output().slice(-4000)}`);
}

/** SIGTERM, SIGKILL after 15 s; then SIGKILL to any process still naming the temp dir (a run the daemon left). */
async function stopDaemon(daemon: DaemonProcess, dir: string): Promise<void> {
  const child = daemon.child;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited.finally(() => clearTimeout(timer));
  }
  const left = processesMentioning(dir).filter((p) => p.pid !== process.pid);
  if (left.length > 0) progress(`killing ${left.length} process(es) left under ${dir}`);
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** A commit on the pull request's branch setting `web_workers`, pushed to the branch and to refs/pull/N/head. */
function pushHead(work: string, inventory: string, workers: number): string {
  writeFileSync(join(work, 'inventories', 'demo.yml'), inventory.replace('web_workers: 4', `web_workers: ${workers}`));
  git(work, 'commit', '-q', '-am', `web: ${workers} workers`);
  git(work, 'push', '-q', '-f', 'origin', `HEAD:refs/heads/${branch}`, `HEAD:refs/pull/${pullNumber}/head`);
  return git(work, 'rev-parse', 'HEAD');
}

/** POSTs the delivery signed as GitHub signs it; resolves with the preview's id. */
async function deliver(base: string, payload: unknown): Promise<number> {
  const body = JSON.stringify(payload);
  const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const response = await fetch(`${base}/api/v1/webhooks/git`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-hub-signature-256': signature },
    body,
  });
  const answer = (await response.json()) as { preview?: number };
  if (response.status !== 202 || typeof answer.preview !== 'number') {
    throw new Error(`the webhook answered ${response.status} ${JSON.stringify(answer)}, expected 202 with a preview`);
  }
  return answer.preview;
}

/** The head's statuses once the final one arrived; a cancelled preview (GitHub's `error`) ends the benchmark. */
function finalStatusesOf(forge: LoopbackForge, sha: string, preview: number) {
  return waitFor(`the final status on ${sha.slice(0, 12)}`, () => {
    const seen = forge.statuses(sha);
    if (seen.some((s) => s.body.state === 'error')) throw new GiveUp(`preview #${preview} was cancelled: ${JSON.stringify(seen.at(-1)!.body)}`);
    return seen.some((s) => finalStates.has(String(s.body.state))) ? seen : undefined;
  }, 120_000, 20);
}

/** The ended preview and its check run; it must have checked the pushed head and found a plan. */
async function endedPreview(base: string, preview: number, sha: string): Promise<{ view: PreviewView; run: RunDetail }> {
  const view = await waitFor(`preview #${preview} to end`, async () => {
    const got = await getJson<PreviewView>(base, `/api/v1/previews/${preview}`);
    return got.finishedAt !== null ? got : undefined;
  }, 30_000, 50);
  if (view.revision !== sha) throw new Error(`preview #${preview} checked ${view.revision}, not the pushed head ${sha}`);
  if (!view.targets[0] || view.targets[0].changes.length === 0) throw new Error(`preview #${preview} found no plan: ${JSON.stringify(view.targets)}`);
  return { view, run: await getJson<RunDetail>(base, `/api/v1/runs/${view.targets[0].runId}`) };
}

/** One round: push, deliver, wait for the final status, the ended preview and its comment. */
async function measure(bench: Bench, inventory: string, index: number, before: string): Promise<Round> {
  const { base, forge } = bench;
  const sha = pushHead(bench.work, inventory, 5 + index);
  const action = index === 0 ? 'opened' : 'synchronize';
  const payload = githubPullRequest({ action, number: pullNumber, headSha: sha, headRef: branch, before });
  const sent = Date.now();
  const preview = await deliver(base, payload);
  const answered = Date.now() - sent;
  const statuses = await finalStatusesOf(forge, sha, preview);
  const { view, run } = await endedPreview(base, preview, sha);
  await waitFor(`the comment of preview #${preview}`, () => forge.comments(pullNumber).length > index, 30_000, 20);
  const since = (iso: string | null): number => Date.parse(iso ?? '') - sent;
  const pending = statuses.filter((s) => s.body.state === 'pending');
  const final = statuses.find((s) => finalStates.has(String(s.body.state)))!;
  return {
    round: index + 1,
    action,
    sha,
    preview,
    answered,
    pending: pending.length > 0 ? pending[0]!.at - sent : Number.NaN,
    final: final.at - sent,
    finalState: String(final.body.state),
    description: String(final.body.description),
    previewOwn: Date.parse(view.finishedAt!) - Date.parse(view.createdAt),
    created: since(view.createdAt),
    afterFinished: final.at - Date.parse(view.finishedAt!),
    pendingPosts: pending.length,
    runQueued: since(run.queuedAt),
    runStarted: since(run.startedAt),
    runFinished: since(run.finishedAt),
  };
}

const stats = (values: readonly number[]) => ({
  median: round(median(values), 0),
  min: round(Math.min(...values), 0),
  max: round(Math.max(...values), 0),
});

/** The human table: one line per round, then median/min/max of each time. */
function printTable(results: readonly Round[]): void {
  const head = ['round', 'action', 'preview', '202', '→pending', '→final', 'state', 'created→finished', 'final−finished'];
  const rows = results.map((r) => [
    String(r.round), r.action, `#${r.preview}`, `${r.answered}`, `${r.pending}`, `${r.final}`, r.finalState, `${r.previewOwn}`, `${r.afterFinished}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(`PR webhook → commit status on the forge, demo fleet (3 local hosts), ${results.length} rounds; times in ms from the POST; ${load}\n`);
  console.log([line(head), ...rows.map(line)].join('\n'));
  console.log('');
  const summary: Array<[string, number[]]> = [
    ['webhook → pending status', results.map((r) => r.pending)],
    ['webhook → final status', results.map((r) => r.final)],
    ['preview createdAt → finishedAt', results.map((r) => r.previewOwn)],
  ];
  for (const [name, values] of summary) {
    const s = stats(values);
    console.log(`${name.padEnd(32)} median ${String(s.median).padStart(6)} ms   min ${String(s.min).padStart(6)}   max ${String(s.max).padStart(6)}`);
  }
  const part = (f: (r: Round) => number): number => round(median(results.map(f)), 0);
  console.log(
    `where it goes (medians, ms): preview recorded ${part((r) => r.created)}, ref fetched and checked out ${part((r) => r.runQueued - r.created)}, ` +
      `run waiting ${part((r) => r.runStarted - r.runQueued)}, ansible-playbook --check ${part((r) => r.runFinished - r.runStarted)}, ` +
      `preview ended → final status on the forge ${part((r) => r.afterFinished)}`,
  );
  console.log(`final status: ${results[0]?.description ?? '-'}`);
}

function report(results: readonly Round[]): void {
  const pending = results.map((r) => r.pending);
  const final = results.map((r) => r.final);
  const own = results.map((r) => r.previewOwn);
  const figures: Figure[] = [
    { name: 'webhook → pending status, median', value: round(median(pending), 0), unit: 'ms' },
    { name: 'webhook → final status, median', value: round(median(final), 0), unit: 'ms' },
    { name: 'preview createdAt → finishedAt, median', value: round(median(own), 0), unit: 'ms' },
  ];
  if (!json) return printTable(results);
  emit({
    id: 'preview-latency',
    title: 'Pull-request webhook → commit status on the forge (issue 11), demo fleet',
    command: commandLine('preview-latency.ts'),
    figures,
    series: [series('webhook → pending', 'ms', pending, 0), series('webhook → final', 'ms', final, 0), series('preview own', 'ms', own, 0)],
    notes: ['fleetcd serve (dist/) over the demo fleet: 3 local-connection hosts; GitHub-type loopback forge; previews.comment on', load],
    detail: { pending: stats(pending), final: stats(final), previewOwn: stats(own), rounds: results },
  });
}

async function main(): Promise<void> {
  const bench = await setUp();
  const inventory = readFileSync(join(bench.work, 'inventories', 'demo.yml'), 'utf8');
  if (!inventory.includes('web_workers: 4')) throw new Error('inventories/demo.yml no longer sets web_workers: 4; the rounds change that line');
  git(bench.work, 'checkout', '-q', '-b', branch);
  const results: Round[] = [];
  let before = git(bench.work, 'rev-parse', 'HEAD');
  for (let index = 0; index < rounds; index++) {
    const result = await measure(bench, inventory, index, before).catch((error: Error) => {
      throw withLog(error, bench.daemon);
    });
    progress(`round ${result.round}: pending ${result.pending} ms, ${result.finalState} ${result.final} ms (preview #${result.preview} ${result.previewOwn} ms)`);
    results.push(result);
    before = result.sha;
  }
  report(results);
}

await runBench(main, 120_000 + rounds * 150_000);
