/**
 * Hostile input: generated requests over every route (hostile-probes.ts) from a few parallel clients, with slow
 * clients holding connections meanwhile. Required: no 5xx, no restart, nothing queued or changed by a refused
 * request, RSS growth within a generous bound, and a reconcile that still works afterwards.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { OpenAPIV3 } from 'openapi-types';
import { startDaemonFleet, type RunningDaemon } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { allRuns, idle, localHosts, memoryOf, mib, ms, percentile, resetPeak, scenario, seeded, type Mode, type ScenarioResult } from './common.js';
import { categories, generateProbes, type Category, type Probe } from './hostile-probes.js';
import { exchange, requestBytes, slowClient, type Outcome } from './raw-http.js';

const sizes = { short: { requests: 1000, slowClients: 6 }, full: { requests: 10_000, slowClients: 24 } } as const;
const parallel = 8;
/** Generous: the daemon idles near 100 MiB; the point is that 10,000 requests do not add up. */
const rssGrowthBoundKiB = 150 * 1024;
const webhookSecret = 'torture-webhook-secret';
const readToken = 'torture-read-token';

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.copy: { dest: "{{ host_root }}/motd", content: "hello\\n" }
`;

export function hostileRequests(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('hostile-requests', 'Hostile requests', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-requests-');
    const d = await startDaemonFleet(
      { 'playbooks/site.yml': playbook, 'inventories/web.yml': localHosts(sandbox, ['h1']), 'inventories/db.yml': localHosts(sandbox, ['h2']) },
      'reconcile: { interval: 1h }',
    );
    try {
      await withWebhookAndReadToken(d);
      const settled = await idle(d);
      const pid = d.process.child.pid!;
      const port = Number(new URL(d.base).port);
      const routes = await declaredRoutes(d);
      const runsBefore = await allRuns(d);
      const probes = generateProbes(size.requests, { token: d.token, readToken, webhookSecret, routes, finishedRunId: runsBefore[0]!.id }, seeded(12));
      r.step(
        `Started a daemon with targets \`web\` and \`db\` (detect), a webhook secret and a read-only token; once idle, sent ${size.requests} ` +
          `generated requests (seed 12) from ${parallel} parallel clients, each on its own connection, spread evenly over ${categories.length} ` +
          `categories (${categories.join(', ')}) and over the ${routes.length - 2} routes of its OpenAPI document plus \`/\` and \`/api/v1/openapi.json\`, while ` +
          `${size.slowClients} slow clients trickled requests (headers, or a body after complete headers) one byte every 500 ms and never finished them.`,
      );
      await warmUp(port);
      const memoryBefore = memoryOf(pid);
      resetPeak(pid);
      const slow = Array.from({ length: size.slowClients }, (_, i) => slowLoris(port, d.token, i));
      const started = performance.now();
      // In two halves: RSS that grows as much in the second as in the first would be a leak, not a warm-up.
      const half = Math.floor(probes.length / 2);
      const outcomes = await sendAll(port, probes.slice(0, half));
      const memoryHalf = memoryOf(pid);
      outcomes.push(...(await sendAll(port, probes.slice(half))));
      const spanMs = performance.now() - started;
      const slowSeen = slow.map((client) => ({ label: client.label, ...client.stop() }));
      const memoryAfter = memoryOf(pid);
      report(r, probes, outcomes);
      const fiveXx = outcomes.flatMap((o, i) => (typeof o.status === 'number' && o.status >= 500 ? [{ probe: probes[i]!, outcome: o }] : []));
      r.check('zero 5xx answers', fiveXx.length === 0, fiveXx.length === 0 ? '0' : `${fiveXx.length}: ${fiveXx.slice(0, 3).map((f) => `${f.probe.label} → ${f.outcome.head.split('\r\n')[0]}`).join('; ')}`);
      const hung = outcomes.filter((o) => o.status === 'timeout').length;
      r.check('every request is answered or closed (none hangs 15 s)', hung === 0, `${hung} hung`);
      const accepted = outcomes.flatMap((o, i) => (typeof o.status === 'number' && o.status < 300 && isWrite(probes[i]!) ? [probes[i]!.label] : []));
      r.check('no hostile request other than a GET or HEAD is accepted (2xx)', accepted.length === 0, accepted.length === 0 ? '0 accepted' : `${accepted.length}: ${accepted.slice(0, 3).join('; ')}`);
      for (const defect of fiveXx.slice(0, 5)) r.defect(`\`${defect.probe.label}\` answered \`${defect.outcome.head.split('\r\n')[0]}\``);
      await checkNothingChanged(r, d, runsBefore, settled.targets.map((t) => t.name));
      const audit = await fetch(`${d.base}/api/v1/audit?limit=500`);
      const auditText = await audit.text();
      r.check('the audit log still reads (GET /api/v1/audit?limit=500 → 200)', audit.status === 200, `${audit.status} ${auditText.slice(0, 80)}`);
      if (audit.status >= 500) {
        r.defect(
          'One refused request whose body is over 4 KiB breaks `GET /api/v1/audit` for good (every page holding its entry answers 500): ' +
            '`AuditLog.record` stores `JSON.stringify(request).slice(0, 4096)` and `AuditLog.list` `JSON.parse`s it back (src/store/audit.ts). ' +
            'E.g. `POST /api/v1/targets/nope/suspend` with `{"reason":"…","x":"<5,000 chars>"}` → 400, then `GET /api/v1/audit` → 500, logged ' +
            '"Unterminated string in JSON at position 4096" at dist/store/audit.js.',
        );
      }
      const alive = d.process.child.exitCode === null && d.process.child.signalCode === null && (await fetch(`${d.base}/healthz`)).ok;
      r.check('zero restarts: the same daemon process answers', alive && d.process.child.pid === pid, `pid ${pid}, ${alive ? 'answering' : 'gone'}`);
      const failed = failedRequests(d.process.output());
      r.check('no request failed inside the daemon (no "request failed" log line)', failed.count === 0, `${failed.count} lines`);
      for (const line of failed.distinct) r.defect(`log: ${line}`);
      const growth = memoryAfter.rssKiB - memoryBefore.rssKiB;
      r.check(`RSS growth ≤ ${mib(rssGrowthBoundKiB)}`, growth <= rssGrowthBoundKiB, `${mib(memoryBefore.rssKiB)} → ${mib(memoryAfter.rssKiB)} (peak ${mib(memoryAfter.peakKiB)})`);
      r.figure('daemon RSS before / after the first half / after the second half', `${mib(memoryBefore.rssKiB)} / ${mib(memoryHalf.rssKiB)} / ${mib(memoryAfter.rssKiB)}`);
      const [check] = await d.chain((await d.reconcile({ targets: ['web'], mode: 'check' })).runs[0]!.id);
      r.check('afterwards the daemon still reconciles', check?.status === 'succeeded', `check run #${check?.id} ${check?.status}`);
      r.figure('requests / time', `${size.requests} in ${ms(spanMs)} (${Math.round(size.requests / (spanMs / 1000))}/s)`);
      const unanswered = outcomes.flatMap((o, i) => (typeof o.status === 'number' ? [] : [`${probes[i]!.label.slice(0, 60)} (${o.status})`]));
      r.figure('closed or reset without an answer', unanswered.length === 0 ? 'none' : `${unanswered.length}, e.g. ${[...new Set(unanswered)].slice(0, 6).join('; ')}`);
      const times = outcomes.map((o) => o.ms);
      r.figure('answer time p50 / p99 / max', `${ms(percentile(times, 50))} / ${ms(percentile(times, 99))} / ${ms(Math.max(...times))}`);
      r.figure('slow clients', summariseSlow(slowSeen));
    } finally {
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}

/** Restarts the daemon with a webhook secret and a read-only token (the webhook route is set up at start). */
async function withWebhookAndReadToken(d: RunningDaemon): Promise<void> {
  writeFileSync(join(d.dir, 'webhook-secret'), webhookSecret, { mode: 0o600 });
  writeFileSync(join(d.dir, 'read-token'), readToken, { mode: 0o600 });
  await d.stop();
  const [, ...rest] = readFileSync(d.configFile, 'utf8').split('\n');
  const api = rest.findIndex((line) => line.startsWith('api:'));
  rest[api] = rest[api]!.replace(/ }$/, `, tokens: [{ name: reader, file: ${JSON.stringify(join(d.dir, 'read-token'))}, scope: read }] }`);
  const repository = { url: d.repo.origin, pollInterval: '1h', webhookSecretFile: join(d.dir, 'webhook-secret') };
  writeFileSync(d.configFile, [`repository: ${JSON.stringify(repository)}`, ...rest].join('\n'));
  await d.restart();
}

/** Every route of the OpenAPI document (parameters as `{name}`), plus the hidden ones. */
async function declaredRoutes(d: RunningDaemon): Promise<Array<{ method: string; path: string }>> {
  const document = await d.get<OpenAPIV3.Document>('/api/v1/openapi.json');
  const routes = Object.entries(document.paths).flatMap(([path, item]) =>
    ['get', 'post'].filter((method) => item && method in item).map((method) => ({ method: method.toUpperCase(), path })),
  );
  return [...routes, { method: 'GET', path: '/' }, { method: 'GET', path: '/api/v1/openapi.json' }];
}

async function warmUp(port: number): Promise<void> {
  for (let i = 0; i < 50; i++) await exchange(port, requestBytes('GET', '/api/v1/status', []), 10_000);
}

function slowLoris(port: number, token: string, i: number): ReturnType<typeof slowClient> {
  if (i % 2 === 0) return slowClient(port, `slow headers #${i}`, requestBytes('GET', '/api/v1/status', [['X-Slow', 's'.repeat(200)]]), 500);
  const bytes = requestBytes('POST', '/api/v1/reconcile', [['Authorization', `Bearer ${token}`], ['Content-Type', 'application/json']], '{"targets":["nope"]}');
  return slowClient(port, `slow body #${i}`, bytes, 500, bytes.indexOf('\r\n\r\n') + 4);
}

async function sendAll(port: number, probes: readonly Probe[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(probes.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < probes.length; i = next++) outcomes[i] = await exchange(port, probes[i]!.bytes, 15_000);
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return outcomes;
}

/** "12 slow headers: still open after 11 s; 12 slow body: still open after 11 s", grouping clients that fared alike. */
function summariseSlow(seen: ReadonlyArray<{ label: string; answered: number | null; closedByServerAfterMs: number | null; heldMs: number }>): string {
  const groups = new Map<string, number>();
  for (const client of seen) {
    const what = client.answered
      ? `answered ${client.answered}`
      : client.closedByServerAfterMs !== null
        ? `closed by the daemon after ${(client.closedByServerAfterMs / 1000).toFixed(0)} s`
        : `still open after ${(client.heldMs / 1000).toFixed(0)} s`;
    const key = `${client.label.replace(/ #\d+$/, '')}: ${what}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return [...groups].map(([key, n]) => `${n}× ${key}`).join('; ');
}

function isWrite(probe: Probe): boolean {
  const method = /^[A-Z]+ /.exec(probe.bytes.subarray(0, 16).toString('latin1'))?.[0].trim();
  return method !== undefined && method !== 'GET' && method !== 'HEAD';
}

/** The daemon's "request failed" log lines (its 500s), one of each kind: error, where, and the request. */
function failedRequests(output: string): { count: number; distinct: string[] } {
  const kinds = new Map<string, string>();
  let count = 0;
  for (const line of output.split('\n')) {
    if (!line.includes('"request failed"')) continue;
    count += 1;
    try {
      const entry = JSON.parse(line) as { err?: string; stack?: string; method?: string; url?: string };
      const at = entry.stack?.split('\n').find((frame) => frame.includes('/dist/'))?.trim() ?? '';
      const key = `${entry.err} ${at}`;
      if (!kinds.has(key)) kinds.set(key, `\`${entry.method} ${entry.url?.slice(0, 80)}\` → 500, logged \`${entry.err}\` ${at}`);
    } catch {
      kinds.set(line.slice(0, 200), line.slice(0, 200));
    }
  }
  return { count, distinct: [...kinds.values()] };
}

/** Answers per category as figures: "400×12, 404×3, reset×1". */
function report(r: { figure(name: string, value: string): void }, probes: readonly Probe[], outcomes: readonly Outcome[]): void {
  const by = new Map<Category, Map<string, number>>();
  probes.forEach((probe, i) => {
    const counts = by.get(probe.category) ?? new Map<string, number>();
    const key = String(outcomes[i]!.status);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    by.set(probe.category, counts);
  });
  for (const [category, counts] of by) {
    r.figure(`answers: ${category}`, [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => `${status}×${n}`).join(', '));
  }
}

/** Nothing a refused request could have done: no new or changed run, no suspension, no preview, nothing queued. */
async function checkNothingChanged(r: { check(req: string, ok: boolean, observed: string): boolean }, d: RunningDaemon, runsBefore: Awaited<ReturnType<typeof allRuns>>, targets: string[]): Promise<void> {
  const runsAfter = await allRuns(d);
  const changed = runsAfter.filter((run) => JSON.stringify(run) !== JSON.stringify(runsBefore.find((b) => b.id === run.id)));
  r.check('nothing queued: no run created or changed', changed.length === 0, changed.length === 0 ? `${runsAfter.length} runs, as before` : changed.map((run) => `#${run.id} ${run.target} ${run.status} (${run.trigger})`).join(', '));
  const status = await d.status();
  const touched = status.targets.filter((t) => t.running || t.suspended || t.held !== null);
  r.check('no target running, suspended or held', touched.length === 0 && status.targets.length === targets.length, touched.map((t) => t.name).join(', ') || `${targets.join(', ')} idle`);
  const { previews } = await d.get<{ previews: unknown[] }>('/api/v1/previews');
  r.check('no preview started', previews.length === 0, `${previews.length} previews`);
}
