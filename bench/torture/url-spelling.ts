/**
 * URL spellings against scopes (contract note 20): a daemon with api.requireReadToken, and every route of its
 * OpenAPI document asked for without a token in many spellings (percent-encoded letters and slashes, doubled
 * slashes, dot segments, absolute forms, and random compositions of them). Required: zero answers with data.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { OpenAPIV3 } from 'openapi-types';
import { startDaemonFleet, type RunningDaemon } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { idle, localHosts, scenario, seeded, type Mode, type ScenarioResult } from './common.js';
import { exchange, requestBytes, type Outcome } from './raw-http.js';
import { randomSpelling, spellings } from './url-spellings.js';

const sizes = { short: { random: 2000 }, full: { random: 20_000 } } as const;
const parallel = 8;
/** The bound: answers carrying data (2xx or 3xx) to a request without a token on a route that needs one. */
const dataBound = 0;
/** Routes anyone may call: their 200 is no leak. */
const publicRoutes = new Set(['GET /healthz', 'GET /metrics', 'POST /api/v1/webhooks/git']);
const playbook = '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n';

type Probe = { label: string; method: string; target: string };

export function urlSpelling(mode: Mode): Promise<ScenarioResult> {
  return scenario('url-spelling', 'URL spellings against route scopes', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-spelling-');
    const d = await startDaemonFleet({ 'playbooks/site.yml': playbook, 'inventories/web.yml': localHosts(sandbox, ['h1']) }, 'reconcile: { interval: 1h }');
    try {
      const runId = (await idle(d)).targets[0]!.lastRun!.id;
      await requireReadToken(d);
      const port = Number(new URL(d.base).port);
      const routes = await declaredRoutes(d, runId);
      const probes = makeProbes(routes, port, sizes[mode].random);
      r.step(
        `Started a daemon with one target, waited for its first check (run #${runId}), restarted it with \`api.requireReadToken: true\`, then ` +
          `sent ${probes.length} requests without a token over raw sockets (${parallel} in parallel): each of the ${routes.length} routes ` +
          `needing a token (the OpenAPI document's, the hidden document itself; GET routes also as HEAD) in ${spellings('/', port).length} ` +
          `fixed spellings, and ${sizes[mode].random} random compositions of 1–3 rewrites (seed 15), a quarter of them in absolute form.`,
      );
      const outcomes = await sendAll(port, probes);
      const leaks = outcomes.flatMap((o, i) => (typeof o.status === 'number' && o.status >= 200 && o.status < 400 ? [`${probes[i]!.label} → ${o.status}`] : []));
      r.check(`answers with data ≤ ${dataBound}`, leaks.length <= dataBound, leaks.length === 0 ? '0' : `${leaks.length}: ${leaks.slice(0, 5).join('; ')}`);
      const fiveXx = outcomes.filter((o) => typeof o.status === 'number' && o.status >= 500).length;
      r.check('zero 5xx answers', fiveXx === 0, String(fiveXx));
      const hung = outcomes.filter((o) => o.status === 'timeout').length;
      r.check('every request is answered or closed (none hangs 15 s)', hung === 0, `${hung} hung`);
      const canonical = await fetch(`${d.base}/api/v1/status`, { headers: { authorization: `Bearer ${d.token}` } });
      r.check('with the token, GET /api/v1/status still answers 200', canonical.status === 200, String(canonical.status));
      for (const leak of leaks.slice(0, 5)) r.defect(`\`${leak}\` without a token`);
      r.figure('answers', histogram(outcomes));
    } finally {
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}

/** Restarts the daemon with api.requireReadToken (the helper's one-line api mapping gains the key). */
async function requireReadToken(d: RunningDaemon): Promise<void> {
  await d.stop();
  const lines = readFileSync(d.configFile, 'utf8').split('\n');
  const api = lines.findIndex((line) => line.startsWith('api:'));
  lines[api] = lines[api]!.replace(/ }$/, ', requireReadToken: true }');
  writeFileSync(d.configFile, lines.join('\n'));
  await d.restart();
}

/** The routes that need a token, parameters filled with things that exist (the target, its host, the run). */
async function declaredRoutes(d: RunningDaemon, runId: number): Promise<Array<{ method: string; path: string }>> {
  const answer = await fetch(`${d.base}/api/v1/openapi.json`, { headers: { authorization: `Bearer ${d.token}` } });
  if (!answer.ok) throw new Error(`GET /api/v1/openapi.json with the token: ${answer.status}`);
  const document = (await answer.json()) as OpenAPIV3.Document;
  const fill = (template: string): string =>
    template.replace('{id}', String(runId)).replace('{name}', template.startsWith('/api/v1/hosts/') ? 'h1' : 'web');
  const routes = Object.entries(document.paths).flatMap(([template, item]) =>
    (['get', 'post'] as const).filter((m) => item?.[m] && !publicRoutes.has(`${m.toUpperCase()} ${template}`)).map((m) => ({ method: m.toUpperCase(), path: fill(template) })),
  );
  return [...routes, { method: 'GET', path: '/api/v1/openapi.json' }];
}

function makeProbes(routes: ReadonlyArray<{ method: string; path: string }>, port: number, random: number): Probe[] {
  const probes: Probe[] = [];
  const methodsOf = (method: string): string[] => (method === 'GET' ? ['GET', 'HEAD'] : [method]);
  for (const route of routes) {
    for (const method of methodsOf(route.method)) {
      for (const [how, target] of spellings(route.path, port)) probes.push({ label: `${method} ${target} (${how})`, method, target });
    }
  }
  const next = seeded(15);
  for (let i = 0; i < random; i++) {
    const route = routes[Math.floor(next() * routes.length)]!;
    const methods = methodsOf(route.method);
    const method = methods[Math.floor(next() * methods.length)]!;
    const [how, target] = randomSpelling(route.path, port, next);
    probes.push({ label: `${method} ${target} (${how})`, method, target });
  }
  return probes;
}

async function sendAll(port: number, probes: readonly Probe[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(probes.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < probes.length; i = next++) {
      const { method, target } = probes[i]!;
      const headers: Array<[string, string]> = method === 'POST' ? [['Content-Type', 'application/json']] : [];
      outcomes[i] = await exchange(port, requestBytes(method, target, headers, method === 'POST' ? '{}' : undefined), 15_000);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return outcomes;
}

/** "401×1234, 404×567": how the daemon answered. */
function histogram(outcomes: readonly Outcome[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(String(o.status), (counts.get(String(o.status)) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([status, n]) => `${status}×${n}`).join(', ');
}
