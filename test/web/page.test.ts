import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { registerPage } from '../../src/api/static.js';
import { type DaemonProcess, freePort, getJson, spawnDaemon } from '../helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The status page end to end: Debian's chromium, driven by playwright-core, against `fleetcd serve` (the
 * built dist/, page included) over a real fleet repository of local-connection hosts. Each view is saved as
 * a screenshot under test-artifacts/web/.
 */

const projectDir = fileURLToPath(new URL('../..', import.meta.url));
const artifacts = join(projectDir, 'test-artifacts', 'web');
const docShot = join(projectDir, 'docs', 'page-fleet.png');
const token = 'page-test-token-4f9c1e';
const slow = 120_000;

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: Write the motd
      ansible.builtin.copy:
        dest: "{{ host_root }}/motd"
        content: "managed by fleetcd\\nrevision one\\n"
    - name: Check the service answers
      ansible.builtin.command: "true"
      changed_when: false
    - name: Refuse a host marked broken
      ansible.builtin.fail:
        msg: this host is marked broken
      when: broken | default(false)
`;

const localHost = (root: string, extra = '') =>
  `{ ansible_connection: local, ansible_python_interpreter: /usr/bin/python3, host_root: "${root}"${extra} }`;

describe('the status page in a browser, against the daemon over a real fleet', () => {
  let dir: string;
  let repo: FleetRepo;
  let daemon: DaemonProcess;
  let base: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    dir = tempDir('fleetcd-page-');
    const roots = Object.fromEntries(['h1', 'h2', 'd1', 'b1'].map((host) => [host, join(dir, 'hosts', host)]));
    for (const root of Object.values(roots)) mkdirSync(root, { recursive: true });
    // h1 was edited by hand (a diff with context); d1 already holds what the playbook writes (in sync).
    writeFileSync(join(roots.h1!, 'motd'), 'hand edited\nrevision one\n');
    writeFileSync(join(roots.d1!, 'motd'), 'managed by fleetcd\nrevision one\n');
    repo = await createFleetRepo({
      'playbooks/site.yml': playbook,
      'inventories/web.yml': `all:\n  hosts:\n    h1: ${localHost(roots.h1!)}\n    h2: ${localHost(roots.h2!)}\n`,
      'inventories/db.yml': `all:\n  hosts:\n    d1: ${localHost(roots.d1!)}\n`,
      'inventories/batch.yml': `all:\n  hosts:\n    b1: ${localHost(roots.b1!, ', broken: true')}\n`,
      // Nothing listens on port 1: the host is unreachable at once.
      'inventories/cache.yml':
        'all:\n  hosts:\n    c1: { ansible_host: 127.0.0.1, ansible_port: 1, ansible_connection: ssh, ansible_user: nobody, ansible_ssh_common_args: "-o ConnectTimeout=5", host_root: /nonexistent }\n',
    });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const tokenFile = join(dir, 'api-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const config = join(dir, 'fleetcd.yaml');
    writeFileSync(
      config,
      [
        `repository: { url: ${JSON.stringify(repo.origin)}, pollInterval: 1h }`,
        `stateDir: ${JSON.stringify(join(dir, 'state'))}`,
        `api: { listen: "127.0.0.1:${port}", tokenFile: ${JSON.stringify(tokenFile)} }`,
        'reconcile: { mode: detect, interval: 1h }',
        // A policy gate, so a preview's page has a gate result to show (it passes at every revision here).
        'gates: [{ name: plays-present, command: [grep, -c, "hosts:", playbooks/site.yml] }]',
        '',
      ].join('\n'),
    );
    daemon = spawnDaemon(config);
    mkdirSync(artifacts, { recursive: true });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu'],
    });
    page = await browser.newPage({ viewport: { width: 1200, height: 800 }, colorScheme: 'light' });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    await waitFor('the daemon to answer', () => getJson(base, '/healthz').then(() => true), 30_000);
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    repo?.cleanup();
    if (dir) removeDir(dir);
  });

  const shot = (name: string) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  const tile = (name: string) => page.locator(`.tiles [data-target="${name}"]`);
  const alert = () => page.locator('[role="alert"]').last();

  test('the daemon serves the page at / and its files, revalidated, and keeps the API 404 for other paths', async () => {
    const index = await fetch(`${base}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await index.text(), /<script type="module" src="app.js">/);
    const script = await fetch(`${base}/app.js`);
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    const missing = await fetch(`${base}/nope.js`);
    assert.equal(missing.status, 404);
    assert.deepEqual(await missing.json(), { error: 'no route GET /nope.js' });
  });

  test('without a built page, / says how to build it', async () => {
    const empty = tempDir('fleetcd-no-page-');
    const app = Fastify();
    try {
      await app.register((instance) => registerPage(instance, { root: empty }));
      const response = await app.inject({ method: 'GET', url: '/' });
      assert.equal(response.statusCode, 404);
      assert.deepEqual(response.json(), { error: 'the web page is not built: run npm run build' });
    } finally {
      await app.close();
      removeDir(empty);
    }
  });

  test('the fleet view shows every target worst first, with the drifted one and its hosts', async () => {
    await page.goto(`${base}/#/`);
    await page.getByRole('heading', { name: 'Fleet', level: 1 }).waitFor();
    for (const [name, status] of [['web', 'drifted'], ['db', 'in-sync'], ['batch', 'failed'], ['cache', 'unreachable']]) {
      await tile(name!).and(page.locator(`[data-status="${status}"]`)).waitFor({ timeout: slow });
    }
    const order = await Promise.all((await page.locator('.tiles [data-target]').all()).map((t) => t.getAttribute('data-target')));
    assert.deepEqual(order, ['batch', 'cache', 'web', 'db']);
    const web = tile('web');
    assert.match(await web.innerText(), /≠\s*drifted/);
    assert.match(await web.innerText(), /2 of 2 drifted/);
    assert.match(await web.innerText(), /1 task/, 'the unverified command task is counted');
    assert.match(await tile('batch').innerText(), /failed task|marked broken|failed/);
    // Issue 17: a tile says when what a target checked is not what it runs. web (detect mode) found drift, so
    // its hosts match no revision; db's clean check shows they match the head, so it says nothing more.
    const head = repo.head();
    assert.equal(await web.locator('.checking').getAttribute('data-checking'), head);
    assert.match(await web.locator('.checking').innerText(), /^↻?\s*checking [0-9a-f]{7,12}, running nothing applied yet$/);
    assert.equal(await tile('db').locator('.checking').count(), 0);
    assert.equal(await tile('db').locator('.facts code.sha').first().getAttribute('title'), head);
    await page.getByLabel('Filter targets').fill('drift');
    assert.deepEqual(await page.locator('.tiles [data-target]').count(), 1);
    await page.getByLabel('Filter targets').fill('');
    await page.getByLabel('Filter targets').blur();
    await shot('fleet');
    if (!existsSync(docShot) || process.env.FLEETCD_UPDATE_SCREENSHOT === '1') await page.screenshot({ path: docShot });
  });

  test('at 200 % zoom nothing scrolls sideways, and the keyboard alone reaches the filter and a target', async () => {
    const size = page.viewportSize()!;
    // 200 % zoom is the same layout as a viewport half as wide and half as high.
    await page.setViewportSize({ width: size.width / 2, height: size.height / 2 });
    try {
      for (const route of ['#/', '#/targets/web', '#/source']) {
        await page.goto(`${base}/${route}`);
        await page.locator('main h1').waitFor();
        await page.locator('main [aria-busy="true"]').waitFor({ state: 'detached' }).catch(() => undefined);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 0, `${route} scrolls sideways by ${overflow} px at 200 %`);
      }
      await page.goto(`${base}/#/`);
      await tile('web').waitFor();
      const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent);
      let presses = 0;
      while ((await focused()) !== 'fleet-filter' && presses++ < 30) await page.keyboard.press('Tab');
      assert.equal(await focused(), 'fleet-filter', 'Tab reaches the filter box');
      await page.keyboard.type('web');
      while ((await focused()) !== 'web' && presses++ < 60) await page.keyboard.press('Tab');
      assert.equal(await focused(), 'web', "Tab reaches the target's link");
      await page.keyboard.press('Enter');
      await page.waitForURL(/#\/targets\/web$/);
    } finally {
      await page.setViewportSize(size);
      await page.goto(`${base}/#/`);
    }
  });

  test('the target view shows its hosts and the drift as unified diffs, collapsed until opened', async () => {
    await tile('web').getByRole('link', { name: 'web' }).click();
    assert.match(page.url(), /#\/targets\/web$/);
    await page.getByRole('heading', { name: 'Drift' }).waitFor();
    const hosts = page.getByRole('region', { name: 'hosts of web' });
    assert.match(await hosts.innerText(), /h1\s+≠ drifted\s+1/);
    const change = page.getByRole('region', { name: 'changes on h1' }).locator('details').first();
    await change.waitFor();
    assert.equal(await change.getAttribute('open'), null, 'collapsed by default');
    const diff = change.locator('pre.diff');
    assert.equal(await diff.isVisible(), false);
    await change.locator('summary', { hasText: 'Write the motd' }).click();
    await diff.waitFor();
    const text = await diff.innerText();
    assert.match(text, /^--- /m);
    assert.match(text, /^@@ -1,2 \+1,2 @@$/m);
    assert.match(text, /^-hand edited$/m);
    assert.match(text, /^\+managed by fleetcd$/m);
    assert.match(text, /^ revision one$/m, 'with context lines');
    assert.match(await page.getByRole('region', { name: 'tasks check mode could not verify' }).innerText(), /Check the service answers/);
    await page.locator('.chart, .runs').first().waitFor();
    await shot('target');
  });

  test('an action asks for the token once; apply turns the target in sync without a reload', async () => {
    await page.evaluate(() => {
      (globalThis as Record<string, unknown>).fleetcdPageMarker = 'no reload';
    });
    await page.getByRole('button', { name: 'Apply now' }).click();
    const dialog = page.getByRole('dialog', { name: 'API token' });
    await dialog.waitFor();
    await dialog.getByLabel('Token').fill(token);
    await dialog.getByRole('button', { name: 'Save token' }).click();
    const queued = page.locator('.note.ok', { hasText: 'Apply queued' });
    await queued.waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate("sessionStorage.getItem('fleetcd.api-token')"), token, 'kept for the tab');
    assert.ok(!page.url().includes(token), 'the token is never in a link');
    await page.locator('.overview [data-status="in-sync"]').waitFor({ timeout: slow });
    await page.getByRole('link', { name: 'Fleet', exact: true }).first().click();
    await tile('web').and(page.locator('[data-status="in-sync"]')).waitFor({ timeout: slow });
    assert.equal(await page.evaluate(() => (globalThis as Record<string, unknown>).fleetcdPageMarker), 'no reload');
  });

  test('the run view shows the apply with its recap, changes and log, and links to the verify check', async () => {
    const { runs } = await getJson<{ runs: Array<{ id: number; kind: string; followedBy: number | null }> }>(base, '/api/v1/runs?target=web');
    const apply = runs.find((run) => run.kind === 'apply');
    assert.ok(apply, 'an apply run was recorded');
    await page.goto(`${base}/#/runs/${apply.id}`);
    await page.getByRole('heading', { name: `Run #${apply.id}`, level: 1 }).waitFor();
    await page.locator('h1 [data-status="succeeded"]').waitFor({ timeout: slow });
    await page.locator('pre.log', { hasText: 'PLAY RECAP' }).waitFor({ timeout: slow });
    assert.match(await page.getByRole('region', { name: 'per-host recap' }).innerText(), /h1/);
    await page.getByRole('region', { name: 'changes on h2' }).waitFor();
    await page.locator('main p', { hasText: 'Followed by run #' }).waitFor({ timeout: slow });
    assert.equal(await page.getByRole('button', { name: 'Cancel run' }).count(), 0, 'no cancel once finished');
    await shot('run');
  });

  test('the source view lists the tips seen, accepted', async () => {
    await page.getByRole('link', { name: 'Source', exact: true }).click();
    const history = page.getByRole('region', { name: 'revision history' });
    await history.waitFor();
    const text = await history.innerText();
    assert.match(text, new RegExp(repo.head().slice(0, 8)));
    assert.match(text, /accepted/);
    await shot('source');
  });

  test('the host view shows the host across targets, or says plainly that the daemon cannot yet', async () => {
    await page.goto(`${base}/#/hosts/h1`);
    await page.getByRole('heading', { name: /h1/, level: 1 }).waitFor();
    await page.locator('text=/not available from this fleetcd yet|In targets/').first().waitFor({ timeout: 10_000 });
    await shot('host');
  });

  test('a preview of a branch, started from the page, shows its plan per target and applies nothing', async () => {
    const api = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    // Drift already there: h1's motd edited by hand again, and seen by a check at the revision in use.
    writeFileSync(join(dir, 'hosts', 'h1', 'motd'), 'hand edited again\nrevision one\n');
    const { runs } = await api<{ runs: Array<{ id: number }> }>('POST', '/api/v1/reconcile', { targets: ['web'], mode: 'check' });
    const checkId = runs[0]!.id;
    await waitFor('the check of web to end', async () => (await api<{ status: string }>('GET', `/api/v1/runs/${checkId}`)).status === 'succeeded', slow);
    // A branch that adds a banner to every host, pushed next to main (which stays where it is).
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo.work, stdio: 'pipe' }).toString().trim();
    const banner = '    - name: Write the banner\n      ansible.builtin.copy:\n        dest: "{{ host_root }}/banner"\n        content: "previewed on a branch\\n"\n';
    git('checkout', '-q', '-b', 'feature/x');
    writeFileSync(join(repo.work, 'playbooks', 'site.yml'), playbook.replace('    - name: Check the service answers', `${banner}    - name: Check the service answers`));
    git('commit', '-q', '-am', 'a banner on every host');
    const branchSha = git('rev-parse', 'HEAD');
    git('push', '-q', 'origin', 'feature/x');
    git('checkout', '-q', 'main');

    await page.goto(`${base}/#/`);
    await page.getByRole('navigation', { name: 'views' }).getByRole('link', { name: 'Previews' }).click();
    await page.getByRole('heading', { name: 'Previews', level: 1 }).waitFor();
    await page.getByLabel('Ref', { exact: true }).fill('feature/x');
    await page.getByLabel('Targets', { exact: true }).fill('web');
    await page.getByRole('button', { name: 'Start preview' }).click();
    await page.waitForURL(/#\/previews\/[1-9][0-9]*$/, { timeout: 30_000 });
    const id = Number(/#\/previews\/([0-9]+)$/.exec(page.url())![1]);
    await page.getByRole('heading', { name: `Preview #${id}`, level: 1 }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'view-title', 'focus lands on the new view');
    await page.locator('h1 [data-status="succeeded"]').waitFor({ timeout: slow });
    const main = page.getByRole('main');
    assert.match(await main.locator('dl.facts').innerText(), new RegExp(`feature/x[\\s\\S]*${branchSha.slice(0, 8)}`));
    assert.equal(await page.getByRole('button', { name: 'Cancel preview' }).count(), 0, 'no cancel once finished');
    assert.match(await page.getByRole('region', { name: 'policy gate results' }).innerText(), /plays-present\s+✓ passed/);

    // The plan for web: the banner it would write on both hosts, h1's motd drift apart and folded.
    const plan = page.getByRole('region', { name: /Plan for web/ });
    assert.equal(await page.locator('section.plan').count(), 1, 'only the target asked for');
    for (const host of ['h1', 'h2']) {
      const changes = plan.getByRole('region', { name: `changes web would make on ${host}` });
      await changes.waitFor();
      assert.match(await changes.innerText(), /Write the banner/);
      assert.doesNotMatch(await changes.innerText(), /Write the motd/, 'the drift already there is not part of what it would change');
    }
    const bannerChange = plan.getByRole('region', { name: 'changes web would make on h1' }).locator('details').first();
    await bannerChange.locator('summary').click();
    assert.match(await bannerChange.locator('pre.diff').innerText(), /^\+previewed on a branch$/m);
    const drift = plan.getByRole('region', { name: /Drift already there/ }).locator('details.more');
    assert.equal(await drift.getAttribute('open'), null, 'the drift already there is collapsed');
    const driftOnH1 = plan.getByRole('region', { name: 'drift of web already on h1' });
    assert.equal(await driftOnH1.isVisible(), false);
    await drift.locator('summary').first().click();
    await driftOnH1.waitFor();
    await driftOnH1.locator('summary', { hasText: 'Write the motd' }).click();
    assert.match(await driftOnH1.locator('pre.diff').innerText(), /^-hand edited again$/m);
    assert.match(await plan.getByRole('region', { name: 'tasks check mode could not verify for web' }).innerText(), /Check the service answers/);
    const { targets } = await api<{ targets: Array<{ target: string; runId: number }> }>('GET', `/api/v1/previews/${id}`);
    assert.equal(await plan.getByRole('link', { name: `run #${targets[0]!.runId}` }).count(), 1, 'a link to its run');
    assert.equal(existsSync(join(dir, 'hosts', 'h1', 'banner')), false, 'a preview never applies');
    await shot('preview');

    // Its run's page says whose run it is, and leads back.
    await page.goto(`${base}/#/runs/${targets[0]!.runId}`);
    await page.getByRole('link', { name: `preview #${id}` }).click();
    await page.waitForURL(new RegExp(`#/previews/${id}$`));
    await plan.waitFor();

    // The list has it, with its ref, revision and status in words.
    await page.getByRole('link', { name: '← Previews' }).click();
    const row = page.getByRole('region', { name: 'recent previews' }).getByRole('row', { name: new RegExp(`^#${id}\\b`) });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /feature\/x/);
    assert.match(text, new RegExp(branchSha.slice(0, 8)));
    assert.match(text, /✓\s*succeeded/);
    await shot('previews');

    // The target's own drift is still its own newest check's, not the preview's.
    await page.goto(`${base}/#/targets/web`);
    await page.locator('main p', { hasText: `As check #${checkId} saw it` }).waitFor({ timeout: 10_000 });
    const targetDrift = page.getByRole('region', { name: 'Drift', exact: true });
    await targetDrift.getByRole('region', { name: 'changes on h1' }).waitFor();
    assert.doesNotMatch(await targetDrift.innerText(), /Write the banner/);
  });

  test('a wrong token is refused with a clear message', async () => {
    await page.goto(`${base}/#/targets/web`);
    await page.getByRole('button', { name: 'API token set' }).click();
    const dialog = page.getByRole('dialog', { name: 'API token' });
    await dialog.getByLabel('Token').fill('not-the-token');
    await dialog.getByRole('button', { name: 'Save token' }).click();
    await page.getByRole('button', { name: 'Check now' }).click();
    await alert().filter({ hasText: 'the token was refused (401)' }).waitFor({ timeout: 10_000 });
    assert.match(await alert().innerText(), /the token was refused \(401\): wrong bearer token/);
    assert.deepEqual(pageErrors, []);
  });
});
