import assert from 'node:assert/strict';
import { rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { SourceWatcher } from '../../src/reconcile/source-watcher.js';
import type { Revision } from '../../src/source/index.js';
import { fleetRepo, git, makeSource, scratch } from '../source/support.js';

/*
 * The watcher reads a source error's class. Retryable ones (the remote is not there) are tried again with
 * backoff; ones a person must fix (a missing branch, a refused tip) are held: polls only ask the remote for its
 * tip, and the next fetch happens when that tip moves.
 */

const hour = 3_600_000;

function watch(t: TestContext, repository: Record<string, unknown>) {
  const dir = scratch(t);
  const { source, log } = makeSource(t, dir, repository);
  const revisions: Revision[] = [];
  const watcher = new SourceWatcher(source, hour, log, (revision) => revisions.push(revision));
  t.after(() => watcher.stop());
  const delay = (): number => Date.parse(watcher.state.nextAttemptAt ?? '') - Date.parse(watcher.state.lastFetchAt ?? '');
  return { source, watcher, revisions, delay };
}

describe('the source watcher, by error class', () => {
  it('retries a retryable error with backoff: 2 s, then 4 s, then the new revision once it is there', async (t) => {
    const repo = await fleetRepo(t);
    const url = join(scratch(t), 'fleet.git');
    const { watcher, revisions, delay } = watch(t, { url });
    await watcher.poll();
    assert.match(watcher.state.error ?? '', /fleet\.git/);
    assert.doesNotMatch(watcher.state.error ?? '', /held/);
    assert.ok(Math.abs(delay() - 2000) < 500, `first retry after ${delay()} ms`);
    await watcher.poll();
    assert.ok(Math.abs(delay() - 4000) < 500, `second retry after ${delay()} ms`);
    symlinkSync(repo.origin, url);
    await watcher.poll();
    assert.equal(watcher.state.error, null);
    assert.equal(revisions.at(-1)?.sha, repo.head());
  });

  it('holds a missing branch: later polls fetch nothing until the branch appears', async (t) => {
    const repo = await fleetRepo(t);
    const { source, watcher, revisions, delay } = watch(t, { url: repo.origin, branch: 'release' });
    await watcher.poll();
    assert.match(watcher.state.error ?? '', /^branch release does not exist in .* \(held: not fetched again until the ref appears or the config is reloaded\)$/);
    assert.ok(Math.abs(delay() - hour) < 1000, 'held errors are looked at on the poll interval, not in a tight loop');
    const fetches = source.fetches;
    await watcher.poll();
    await watcher.poll();
    assert.equal(source.fetches, fetches, 'an unchanged remote is not fetched again');
    git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/heads/release');
    await watcher.poll();
    assert.equal(source.fetches, fetches + 1);
    assert.equal(watcher.state.error, null);
    assert.equal(revisions.at(-1)?.sha, repo.head());
  });

  it('holds a refused tip: it is not fetched or checked again until a new tip is pushed', async (t) => {
    const repo = await fleetRepo(t, { 'fleet/playbooks/site.yml': '- hosts: all\n  tasks: []\n' });
    const { source, watcher, revisions } = watch(t, { url: repo.origin, path: 'fleet' });
    await watcher.poll();
    const good = revisions.at(-1)?.sha;
    assert.ok(good);
    rmSync(join(repo.work, 'fleet'), { recursive: true });
    symlinkSync('/etc', join(repo.work, 'fleet'));
    const bad = await repo.commit({}, 'fleet is a symlink out of the checkout');
    await watcher.poll();
    assert.match(watcher.state.error ?? '', new RegExp(`^refused commit ${bad} .*\\(held: not fetched again until the tip moves from ${bad.slice(0, 12)}`));
    const fetches = source.fetches;
    const history = source.view(watcher.state).history.length;
    await watcher.poll();
    await watcher.poll();
    assert.equal(source.fetches, fetches);
    assert.equal(source.view(watcher.state).history.length, history);
    assert.equal(watcher.state.revision?.sha, good, 'the last good revision stays in use');
    rmSync(join(repo.work, 'fleet'));
    const fixed = await repo.commit({ 'fleet/playbooks/site.yml': '- hosts: all\n  tasks: []\n' }, 'fleet is a folder again');
    await watcher.poll();
    assert.equal(source.fetches, fetches + 1);
    assert.equal(watcher.state.error, null);
    assert.equal(revisions.at(-1)?.sha, fixed);
  });
});
