/**
 * The status page in Debian's chromium (playwright-core) against `fleetcd serve` (the built dist/, page
 * included), on 127.0.0.1 only:
 * - first render: a fleet of TARGETS targets (one local host each, mode detect; the startup checks are
 *   cancelled so nothing runs while measuring); navigation start → every tile in the DOM, in a fresh browser
 *   context each round (nothing cached);
 * - live update: a fleet of 3 targets with the fleet view open; a check is requested through the API and the
 *   time from the run's finishedAt to its tile showing the new check time is taken in the page.
 * Prints the medians and the page's gzipped size. Not part of the test suite; it stops by itself.
 *
 *   npm run build && node --import tsx bench/web-page.ts [--targets 200] [--rounds 5]
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type Browser, chromium } from 'playwright-core';
import { type DaemonProcess, freePort, getJson, spawnDaemon } from '../test/helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../test/helpers/git.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { waitFor } from '../test/helpers/wait.js';
import { describeMs } from './lib.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) || fallback : fallback;
};
const targetCount = option('--targets', 200);
const rounds = option('--rounds', 5);
const pageDir = fileURLToPath(new URL('../dist/web/', import.meta.url));
const final = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

type Run = { id: number; status: string; finishedAt: string | null };

if (!existsSync(join(pageDir, 'index.html'))) {
  console.error('bench/web-page: the page is not built; run npm run build first');
  process.exit(1);
}
// Bounded whatever happens: the cleanup below runs on this deadline too.
const deadline = setTimeout(() => {
  console.error('bench/web-page: gave up after 10 minutes');
  void cleanup().finally(() => process.exit(1));
}, 10 * 60_000);

let browser: Browser | undefined;
/** Daemons to stop and folders to remove, newest first. */
const cleanups: Array<() => Promise<void> | void> = [];
async function stopFleets(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step();
}
async function cleanup(): Promise<void> {
  await browser?.close();
  await stopFleets();
}

const playbook = '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n';
const host = 'all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }\n';

/** A daemon over a repository of `count` targets, answering on a free loopback port. */
async function fleetDaemon(count: number): Promise<{ base: string; daemon: DaemonProcess }> {
  const files: Record<string, string> = { 'playbooks/site.yml': playbook };
  for (let i = 1; i <= count; i++) files[`inventories/t${String(i).padStart(3, '0')}.yml`] = host;
  const repo: FleetRepo = await createFleetRepo(files);
  const dir = tempDir('fleetcd-bench-page-');
  cleanups.push(() => {
    repo.cleanup();
    removeDir(dir);
  });
  const port = await freePort();
  const config = join(dir, 'fleetcd.yaml');
  writeFileSync(join(dir, 'token'), 'bench-token\n', { mode: 0o600 });
  writeFileSync(
    config,
    `repository: { url: ${repo.origin}, pollInterval: 1h }\nstateDir: ${join(dir, 'state')}\n` +
      `api: { listen: "127.0.0.1:${port}", tokenFile: ${join(dir, 'token')} }\nreconcile: { mode: detect, interval: 1h }\n`,
  );
  const daemon = spawnDaemon(config, { FLEETCD_LOG_LEVEL: 'warn' });
  cleanups.push(async () => {
    await daemon.stop();
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the daemon to list its targets', async () => {
    const status = await getJson<{ targets: unknown[] }>(base, '/api/v1/status');
    return status.targets.length === count;
  }, 60_000);
  return { base, daemon };
}

const post = (base: string, path: string, body?: unknown) =>
  fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: 'Bearer bench-token', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Cancels every queued or running run until none is left, so no ansible-playbook competes for the CPU. */
async function settle(base: string): Promise<void> {
  await waitFor('every startup run to be cancelled or done', async () => {
    const { runs } = await getJson<{ runs: Run[] }>(base, '/api/v1/runs?limit=500');
    const live = runs.filter((run) => !final.has(run.status));
    for (const run of live) await post(base, `/api/v1/runs/${run.id}/cancel`);
    return live.length === 0;
  }, 120_000, 250);
}

/** Navigation start → `count` tiles in the DOM, read in the page by a MutationObserver set before any script. */
async function firstRender(base: string, count: number): Promise<number> {
  // bypassCSP: playwright evaluates string predicates with eval, which the page's policy rightly forbids.
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  try {
    const page = await context.newPage();
    await page.addInitScript(`(() => {
      const record = () => {
        if (document.querySelectorAll('.tiles [data-target]').length >= ${count}) {
          window.fleetcdTilesAt = performance.now();
          observer.disconnect();
        }
      };
      const observer = new MutationObserver(record);
      observer.observe(document, { childList: true, subtree: true });
    })()`);
    await page.goto(`${base}/#/`);
    return await page.waitForFunction('window.fleetcdTilesAt', undefined, { timeout: 60_000 }).then((h) => h.jsonValue() as Promise<number>);
  } finally {
    await context.close();
  }
}

/** A check of `target` requested through the API: ms from its finishedAt to its tile showing that check. */
async function liveUpdate(page: import('playwright-core').Page, base: string, target: string): Promise<number> {
  await page.evaluate(`(() => {
    window.fleetcdChanges = [];
    const tile = document.querySelector('.tiles [data-target="${target}"]');
    new MutationObserver(() => window.fleetcdChanges.push({ value: tile.getAttribute('data-last-check'), at: Date.now() }))
      .observe(tile, { attributes: true, attributeFilter: ['data-last-check'] });
  })()`);
  const reply = await post(base, '/api/v1/reconcile', { targets: [target], mode: 'check' });
  if (reply.status !== 202) throw new Error(`reconcile answered ${reply.status}: ${await reply.text()}`);
  const { runs } = (await reply.json()) as { runs: Array<{ id: number }> };
  const run = await waitFor('the check to finish', async () => {
    const r = await getJson<Run>(base, `/api/v1/runs/${runs[0]!.id}`);
    return r.finishedAt ? r : undefined;
  }, 60_000, 20);
  const finished = Date.parse(run.finishedAt!);
  const seen = await page.waitForFunction(
    `window.fleetcdChanges.find((c) => Date.parse(c.value) === ${finished})?.at`,
    undefined,
    { timeout: 30_000, polling: 50 },
  );
  return ((await seen.jsonValue()) as number) - finished;
}

function pageSize(): string {
  const files = readdirSync(pageDir);
  const total = files.reduce((sum, file) => sum + gzipSync(readFileSync(join(pageDir, file)), { level: 9 }).length, 0);
  return `${(total / 1024).toFixed(1)} KB gzipped (${files.join(', ')})`;
}

try {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'],
  });

  const big = await fleetDaemon(targetCount);
  await settle(big.base);
  const renders: number[] = [];
  for (let round = 0; round < rounds; round++) renders.push(await firstRender(big.base, targetCount));
  console.log(`first render of ${targetCount} tiles (navigation start → all tiles in the DOM): ${describeMs(renders)}`);
  await stopFleets();

  const small = await fleetDaemon(3);
  await waitFor('the startup checks', async () => {
    const { runs } = await getJson<{ runs: Run[] }>(small.base, '/api/v1/runs?limit=50');
    return runs.length >= 3 && runs.every((run) => final.has(run.status));
  }, 120_000);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
  await page.goto(`${small.base}/#/`);
  await page.locator('.tiles [data-target="t001"]').waitFor();
  const updates: number[] = [];
  for (let round = 0; round < rounds; round++) updates.push(await liveUpdate(page, small.base, 't001'));
  console.log(`live update (run finishedAt → its tile changed, polling every 1 s): ${describeMs(updates)}`);
  console.log(`page size: ${pageSize()}`);
} finally {
  clearTimeout(deadline);
  await cleanup();
}
