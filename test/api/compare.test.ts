import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Comparison, TargetDetail } from '../../src/api/schemas.js';
import { apiToken, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Issue 17, item 4: what one environment runs that another does not. A real fleet watching a real repository
 * (shallow mirror), two apply-mode targets of one local host each, production after staging with a long soak,
 * so production lags behind; real ansible-playbook writing a file in each host's sandbox.
 */

const site = `- hosts: all
  gather_facts: false
  tasks:
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "version {{ version }}\\n" }
`;

function inventory(root: string, host: string, version: number): string {
  return [
    'all:',
    '  vars:',
    '    ansible_connection: local',
    '    ansible_python_interpreter: /usr/bin/python3',
    `    version: "${version}"`,
    '  hosts:',
    `    ${host}: { host_root: ${join(root, host)} }`,
    '',
  ].join('\n');
}

const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' };
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();

describe('what one target runs that another does not', { timeout: 600_000 }, () => {
  let repo: FleetRepo;
  let f: TestFleet;
  let sandboxes: string;
  let v1: string;
  /** The hundred commits after v1, in push order (the last one changes the version). */
  let hundred: string[] = [];

  const get = async (url: string) => f.api.inject({ method: 'GET', url });
  const target = async (name: string): Promise<TargetDetail> => (await get(`/api/v1/targets/${name}`)).json() as TargetDetail;
  const compare = async (from: string, to: string) => get(`/api/v1/compare?from=${from}&to=${to}`);
  const settle = async (): Promise<void> => {
    await f.fleet.reconciler.idle();
    await waitFor('no target running', async () => (await Promise.all(['staging', 'production'].map(target))).every((t) => !t.running), 90_000, 50);
    await f.fleet.reconciler.idle();
  };
  const fetched = async (sha: string): Promise<void> => {
    await f.fleet.fetchNow();
    await waitFor(`the fleet to fetch ${sha}`, () => f.fleet.sourceView().sha === sha, 30_000, 20);
    await settle();
  };
  const version = (host: string): string => readFileSync(join(sandboxes, host, 'app.conf'), 'utf8').trim();
  const post = (url: string, body: unknown) =>
    f.api.inject({ method: 'POST', url, headers: { authorization: `Bearer ${apiToken}`, 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  before(async () => {
    sandboxes = tempDir('fleetcd-compare-hosts-');
    for (const host of ['stage1', 'prod1']) mkdirSync(join(sandboxes, host), { recursive: true });
    repo = await createFleetRepo({
      'playbooks/site.yml': site,
      'inventories/staging.yml': inventory(sandboxes, 'stage1', 1),
      'inventories/production.yml': inventory(sandboxes, 'prod1', 1),
    });
    v1 = repo.head();
    f = await makeFleet(undefined, {
      repository: { url: repo.origin },
      config: {
        reconcile: { mode: 'apply', interval: '1h', concurrency: 2 },
        targets: { production: { dependsOn: ['staging'], soak: '1h' } },
      },
    });
    await settle();
  });

  after(async () => {
    await f?.cleanup();
    repo?.cleanup();
    if (sandboxes) removeDir(sandboxes);
  });

  test('a target that never applied runs no revision, shows what it checked, and cannot be compared (409)', async () => {
    const production = await target('production');
    assert.equal(production.revision, null, 'production waits for staging to soak: it applied nothing');
    assert.equal(production.checkedRevision?.sha, v1, 'its startup check was at v1');
    assert.equal(production.checkedRevision?.subject, 'initial fleet');
    assert.equal((await target('staging')).revision?.sha, v1);
    const refused = await compare('staging', 'production');
    assert.equal(refused.statusCode, 409, refused.body);
    assert.match((refused.json() as { error: string }).error, /^production runs no revision yet: it has never applied one \(its newest check is at [0-9a-f]{12}\)/);
  });

  test('while production soaks, its revision is the one it applied, and the newer one is its checkedRevision', async () => {
    const forced = await post('/api/v1/reconcile', { targets: ['production'], mode: 'apply', force: true });
    assert.equal(forced.statusCode, 202, forced.body);
    await settle();
    assert.equal((await target('production')).revision?.sha, v1);

    // More commits than the source's force-push probe fetches (64), so the mirror holds only part of them.
    const bulk = bulkCommits(repo.work, v1, 99);
    git(repo.work, 'reset', '-q', '--hard', bulk);
    const last = await repo.commit(
      { 'inventories/staging.yml': inventory(sandboxes, 'stage1', 2), 'inventories/production.yml': inventory(sandboxes, 'prod1', 2) },
      'version 2 everywhere',
    );
    hundred = [...git(repo.work, 'rev-list', '--reverse', `${v1}..${bulk}`).split('\n'), last];
    const tip = hundred.at(-1)!;
    await fetched(tip);

    const staging = await target('staging');
    assert.equal(staging.revision?.sha, tip);
    assert.equal(version('stage1'), 'version 2');
    const production = await target('production');
    assert.equal(production.waiting?.reason, 'dependency', JSON.stringify(production.waiting));
    assert.equal(production.checkedRevision?.sha, tip, 'production checked the new tip');
    assert.equal(production.revision?.sha, v1, 'but runs what it applied');
    assert.equal(production.revision?.subject, 'initial fleet');
    assert.equal(version('prod1'), 'version 1', 'as its host shows');
    const listed = (await get('/api/v1/status')).json() as { targets: Array<{ name: string; revision: { sha: string } | null }> };
    assert.equal(listed.targets.find((t) => t.name === 'production')?.revision?.sha, v1, '/api/v1/status says the same');
  });

  test('compare lists the commits staging runs and production does not, deepening the shallow mirror for them', async () => {
    const mirror = join(f.stateDir, 'source', 'mirror.git');
    assert.ok(readFileSync(join(mirror, 'shallow'), 'utf8').trim().length > 0, 'the mirror is shallow before');
    const response = await compare('staging', 'production');
    assert.equal(response.statusCode, 200, response.body);
    const answer = response.json() as Comparison;
    assert.equal(answer.from.target, 'staging');
    assert.equal(answer.from.revision.sha, hundred.at(-1));
    assert.equal(answer.to.revision.sha, v1);
    assert.deepEqual(answer.ahead.map((c) => c.sha), [...hundred].reverse(), 'the hundred commits, newest first');
    assert.deepEqual(answer.behind, []);
    assert.equal(answer.diverged, false);
    assert.equal(answer.summary, 'staging runs 100 commits that production does not');
    const newest = answer.ahead[0]!;
    assert.equal(newest.subject, 'version 2 everywhere');
    assert.equal(newest.author, 'fleetcd test <test@fleetcd.invalid>');
    assert.deepEqual(newest.files, ['inventories/production.yml', 'inventories/staging.yml']);
    assert.deepEqual(answer.ahead.at(-1)!.files, ['notes/bulk.txt']);
    assert.equal(answer.ahead.at(-1)!.subject, 'bulk 1');
    assert.equal(newest.moreFiles, 0);
    assert.equal(git(mirror, 'for-each-ref', 'refs/fleetcd/compare/'), '', 'no ref of the comparison is left');

    const reverse = (await compare('production', 'staging')).json() as Comparison;
    assert.deepEqual(reverse.behind.map((c) => c.sha), [...hundred].reverse());
    assert.deepEqual(reverse.ahead, []);
    assert.equal(reverse.summary, 'staging runs 100 commits that production does not');
  });

  test('a held target runs the revision it is held at, and compares as such', async () => {
    const rollback = await post('/api/v1/targets/staging/rollback', { revision: v1, reason: 'compare test' });
    assert.equal(rollback.statusCode, 202, rollback.body);
    assert.equal((await target('staging')).revision?.sha, v1, 'held at v1 from the moment of the rollback');
    await settle();
    const same = (await compare('staging', 'production')).json() as Comparison;
    assert.deepEqual([same.ahead, same.behind, same.diverged], [[], [], false]);
    assert.equal(same.summary, 'staging and production run the same revision');
    const resumed = await post('/api/v1/targets/staging/resume', {});
    assert.equal(resumed.statusCode, 200, resumed.body);
    await settle();
    assert.equal((await target('staging')).revision?.sha, hundred.at(-1));
  });

  test('after a force-push the two have diverged, and the answer says so with both sides', async () => {
    const forced = await post('/api/v1/reconcile', { targets: ['production'], mode: 'apply', force: true });
    assert.equal(forced.statusCode, 202, forced.body);
    await settle();
    const old = hundred.at(-1)!;
    assert.equal((await target('production')).revision?.sha, old);
    git(repo.work, 'reset', '-q', '--hard', 'HEAD~1');
    writeFileSync(join(repo.work, 'notes', 'rewritten.txt'), 'rewritten\n');
    git(repo.work, 'add', '-A');
    git(repo.work, 'commit', '-q', '-m', 'rewritten history');
    git(repo.work, 'push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
    const rewritten = repo.head();
    await fetched(rewritten);
    assert.equal((await target('staging')).revision?.sha, rewritten);
    const response = await compare('staging', 'production');
    assert.equal(response.statusCode, 200, response.body);
    const answer = response.json() as Comparison;
    assert.equal(answer.diverged, true);
    assert.deepEqual(answer.ahead.map((c) => [c.sha, c.files]), [[rewritten, ['notes/rewritten.txt']]]);
    assert.deepEqual(answer.behind.map((c) => c.sha), [old]);
    assert.match(answer.summary, /^staging and production have diverged \(a force-push\?\)/);
  });

  test('two revisions more than 1,000 commits apart are refused with a 409 saying why', async () => {
    const base = repo.head();
    const tip = bulkCommits(repo.work, base, 1005);
    git(repo.work, 'reset', '-q', '--hard', tip);
    git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
    await fetched(tip);
    assert.equal((await target('staging')).revision?.sha, tip);
    const response = await compare('staging', 'production');
    assert.equal(response.statusCode, 409, response.body);
    assert.match((response.json() as { error: string }).error, /more than 1000 commits apart/);
  });

  test('unknown targets are a 404 and a missing side a 400', async () => {
    const unknown = await compare('staging', 'nowhere');
    assert.equal(unknown.statusCode, 404);
    assert.equal((unknown.json() as { error: string }).error, 'unknown target: nowhere');
    const missing = await get('/api/v1/compare?from=staging');
    assert.equal(missing.statusCode, 400);
    assert.match((missing.json() as { error: string }).error, /to/);
  });
});

/** `count` commits on top of `base` (each adding a line to one file), made by git fast-import: a deep history fast. */
function bulkCommits(work: string, base: string, count: number): string {
  const lines: string[] = [];
  // Commit times after the base's, in order, as real history has them: git's walks trust commit dates.
  const now = Math.floor(Date.now() / 1000);
  let content = '';
  for (let i = 1; i <= count; i += 1) {
    content += `line ${i}\n`;
    const message = `bulk ${i}`;
    lines.push('commit refs/heads/bulk', `committer fleetcd test <test@fleetcd.invalid> ${now + i} +0000`);
    lines.push(`data ${Buffer.byteLength(message)}`, message);
    if (i === 1) lines.push(`from ${base}`);
    lines.push(`M 100644 inline notes/bulk.txt`, `data ${Buffer.byteLength(content)}`, content);
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: work, env: gitEnv, input: `${lines.join('\n')}\n` });
  return git(work, 'rev-parse', 'refs/heads/bulk');
}
