import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SourceWatcher } from '../../src/reconcile/source-watcher.js';
import type { Revision } from '../../src/source/index.js';
import { fleetRepo, git, makeSource, makeWatchedFleet, readIn, rejection, scratch } from './support.js';

const sha40 = /^[0-9a-f]{40}$/;
const isoUtc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function mirrorOf(stateDir: string): string {
  return join(stateDir, 'source', 'mirror.git');
}

function checkoutsOf(stateDir: string): string[] {
  const dir = join(stateDir, 'source', 'revisions');
  return existsSync(dir) ? readdirSync(dir).filter((name) => /^[0-9a-f]{40}$/.test(name)).sort() : [];
}

describe('git source: revisions', () => {
  it('fetches only the tip of the branch (depth 1) into a checkout named by its sha, with the commit facts', async (t) => {
    const repo = await fleetRepo(t, { 'site.yml': 'v1\n' });
    await repo.commit({ 'site.yml': 'v2\n' }, 'second');
    const tip = await repo.commit({ 'site.yml': 'v3\n' }, 'third: make it so');
    const dir = scratch(t);
    const { source, stateDir } = makeSource(t, dir, { url: repo.origin });

    const revision = await source.fetch();

    assert.equal(revision.sha, tip);
    assert.match(revision.sha, sha40);
    assert.equal(revision.ref, 'main');
    assert.equal(revision.subject, 'third: make it so');
    assert.equal(revision.author, 'fleetcd test <test@fleetcd.invalid>');
    assert.match(revision.committedAt, isoUtc);
    assert.equal(revision.dir, join(stateDir, 'source', 'revisions', tip));
    assert.equal(readIn(revision.dir, 'site.yml'), 'v3\n');
    assert.equal(git(mirrorOf(stateDir), 'rev-list', '--count', 'refs/fleetcd/tip'), '1', 'one commit of history, not three');
    assert.ok(existsSync(join(mirrorOf(stateDir), 'shallow')), 'the mirror is shallow');
    assert.equal(git(mirrorOf(stateDir), 'for-each-ref', '--format=%(refname)'), 'refs/fleetcd/tip', 'no remote-tracking refs, no tags');
  });

  it('follows new commits and records each new tip once in the history, newest first', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin });
    const first = await source.fetch();
    assert.equal((await source.fetch()).sha, first.sha, 'an unchanged tip is the same revision');
    const second = await repo.commit({ 'a.yml': 'a\n' }, 'add a');

    const revision = await source.fetch();

    assert.equal(revision.sha, second);
    const history = source.view({ revision, error: null, lastFetchAt: null }).history;
    assert.deepEqual(
      history.map((h) => [h.sha, h.subject, h.status, h.forced]),
      [
        [second, 'add a', 'accepted', undefined],
        [first.sha, 'initial fleet', 'accepted', undefined],
      ],
    );
    for (const entry of history) assert.match(entry.firstSeenAt, isoUtc);
  });

  it('follows a force-push to the new tip without merging, and records it as a new, forced entry', async (t) => {
    const repo = await fleetRepo(t, { 'base.yml': 'base\n' });
    const dropped = await repo.commit({ 'dropped.yml': 'will be rewritten away\n' }, 'to be dropped');
    const dir = scratch(t);
    const { source, stateDir } = makeSource(t, dir, { url: repo.origin });
    assert.equal((await source.fetch()).sha, dropped);

    git(repo.work, 'reset', '-q', '--hard', 'HEAD~1');
    writeFileSync(join(repo.work, 'rewritten.yml'), 'new history\n');
    git(repo.work, 'add', '-A');
    git(repo.work, 'commit', '-q', '-m', 'rewritten');
    git(repo.work, 'push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
    const rewritten = git(repo.work, 'rev-parse', 'HEAD');

    const revision = await source.fetch();

    assert.equal(revision.sha, rewritten);
    assert.equal(readIn(revision.dir, 'rewritten.yml'), 'new history\n');
    assert.equal(readIn(revision.dir, 'dropped.yml'), undefined, 'nothing of the dropped commit is merged in');
    assert.equal(git(mirrorOf(stateDir), 'rev-parse', 'refs/fleetcd/tip'), rewritten);
    const [newest, previous] = source.view({ revision, error: null, lastFetchAt: null }).history;
    assert.deepEqual([newest?.sha, newest?.forced, newest?.status], [rewritten, true, 'accepted']);
    assert.equal(previous?.sha, dropped);
  });

  it('does not call a fast-forward of several commits at once forced', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin });
    await source.fetch();
    await repo.commit({ 'a.yml': 'a\n' }, 'a');
    await repo.commit({ 'b.yml': 'b\n' }, 'b');
    const tip = await repo.commit({ 'c.yml': 'c\n' }, 'c');

    const revision = await source.fetch();

    assert.equal(revision.sha, tip);
    const [newest] = source.view({ revision, error: null, lastFetchAt: null }).history;
    assert.equal(newest?.forced, undefined);
  });

  it('a force-push back to a commit seen before is a new history entry', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin });
    const old = (await source.fetch()).sha;
    await repo.commit({ 'x.yml': 'x\n' }, 'x');
    await source.fetch();
    git(repo.work, 'push', '-q', '--force', 'origin', `${old}:refs/heads/main`);

    const revision = await source.fetch();

    assert.equal(revision.sha, old);
    const history = source.view({ revision, error: null, lastFetchAt: null }).history;
    assert.deepEqual(
      history.map((h) => h.sha),
      [old, history[1]?.sha, old],
    );
    assert.equal(history[0]?.forced, true);
  });

  it('a pinned tag is checked out and never moves, even when the tag is moved on the remote or after a restart', async (t) => {
    const repo = await fleetRepo(t, { 'site.yml': 'v1\n' });
    const tagged = repo.head();
    git(repo.work, 'tag', '-a', '-m', 'release v1', 'v1');
    git(repo.work, 'push', '-q', 'origin', 'v1');
    await repo.commit({ 'site.yml': 'v2\n' }, 'after the tag');
    const dir = scratch(t);
    const { source, restart } = makeSource(t, dir, { url: repo.origin, revision: 'v1' });

    const pinned = await source.fetch();
    assert.equal(pinned.sha, tagged, 'an annotated tag resolves to its commit');
    assert.equal(pinned.ref, 'v1');
    assert.equal(readIn(pinned.dir, 'site.yml'), 'v1\n');

    git(repo.work, 'tag', '-f', '-a', '-m', 'moved', 'v1', 'HEAD');
    git(repo.work, 'push', '-q', '--force', 'origin', 'v1');
    assert.equal((await source.fetch()).sha, tagged);
    assert.equal((await restart().fetch()).sha, tagged, 'a restart with the same config keeps the pin');
    assert.deepEqual(
      source.view({ revision: pinned, error: null, lastFetchAt: null }).history.map((h) => h.sha),
      [tagged],
    );
  });

  it('a pinned commit is fetched once and then used without asking the remote', async (t) => {
    const repo = await fleetRepo(t, { 'site.yml': 'old\n' });
    const old = repo.head();
    await repo.commit({ 'site.yml': 'new\n' }, 'newer');
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin, revision: old });

    assert.equal((await source.fetch()).sha, old);
    renameSync(repo.origin, `${repo.origin}.gone`);

    const again = await source.fetch();
    assert.equal(again.sha, old);
    assert.equal(readIn(again.dir, 'site.yml'), 'old\n');
  });

  it('prune keeps the newest keepRevisions checkouts by last use, plus any in use, and removes the rest', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source, stateDir } = makeSource(t, dir, { url: repo.origin });
    const shas: string[] = [(await source.fetch()).sha];
    for (const name of ['b', 'c', 'd']) {
      await sleep(15);
      await repo.commit({ [`${name}.yml`]: `${name}\n` }, name);
      shas.push((await source.fetch()).sha);
    }
    assert.equal(checkoutsOf(stateDir).length, 4);
    const [a, b, c, d] = shas as [string, string, string, string];

    const removed = source.prune(2, new Set([a]));

    assert.deepEqual(removed, [b]);
    assert.deepEqual(checkoutsOf(stateDir), [a, c, d].sort());
    assert.deepEqual(source.prune(1, new Set()).sort(), [a, c].sort(), 'the current revision is never removed');
    assert.deepEqual(checkoutsOf(stateDir), [d]);
  });

  it('the daemon prunes old checkouts as new revisions arrive, keeping repository.keepRevisions of them', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { fleet, stateDir } = await makeWatchedFleet(t, dir, { url: repo.origin, keepRevisions: 2 });
    const shas = [repo.head()];
    for (const name of ['b', 'c', 'd']) {
      await sleep(15);
      shas.push(await repo.commit({ [`${name}.yml`]: `${name}\n` }, name));
      await fleet.fetchNow();
    }
    assert.equal(fleet.sourceView()?.sha, shas[3]);
    assert.deepEqual(checkoutsOf(stateDir), shas.slice(2).sort());
  });

  it('reports a missing branch, keeps the last good revision in use, and picks the branch up when it returns', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source, log } = makeSource(t, dir, { url: repo.origin });
    const seen: Revision[] = [];
    const watcher = new SourceWatcher(source, 60_000, log, (revision) => seen.push(revision));
    t.after(() => watcher.stop());
    await watcher.poll();
    const good = watcher.state.revision?.sha;
    assert.equal(good, repo.head());

    git(repo.origin, 'update-ref', '-d', 'refs/heads/main');
    git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/heads/other');
    await watcher.poll();
    assert.match(watcher.state.error ?? '', /branch main does not exist in .*origin\.git \(its branches: other\)/);
    assert.equal(watcher.state.revision?.sha, good, 'the last good revision stays in use');

    const back = await repo.commit({ 'back.yml': 'back\n' }, 'main is back');
    await watcher.poll();
    assert.equal(watcher.state.error, null);
    assert.equal(watcher.state.revision?.sha, back);
    assert.deepEqual(
      seen.map((r) => r.sha),
      [good, back],
    );
  });

  it('reports an empty repository, and uses its first commit once there is one', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const empty = join(dir, 'empty.git');
    git(dir, 'init', '-q', '--bare', '-b', 'main', empty);
    const { source } = makeSource(t, dir, { url: empty });

    const error = await rejection(source.fetch());
    assert.match(error.message, /empty\.git is an empty repository: it has no branches yet/);

    git(repo.work, 'push', '-q', empty, 'HEAD:refs/heads/main');
    assert.equal((await source.fetch()).sha, repo.head());
  });

  for (const [damage, corrupt] of [
    ['a garbage HEAD', (mirror: string) => writeFileSync(join(mirror, 'HEAD'), 'not a ref at all\n')],
    ['a lost object store', (mirror: string) => rmSync(join(mirror, 'objects'), { recursive: true, force: true })],
    ['a garbage config', (mirror: string) => writeFileSync(join(mirror, 'config'), '[[[ not config\n')],
  ] as const) {
    it(`clones the mirror again when it is damaged (${damage}), and says so in the source view`, async (t) => {
      const repo = await fleetRepo(t);
      const dir = scratch(t);
      const { source, stateDir } = makeSource(t, dir, { url: repo.origin });
      const first = await source.fetch();
      corrupt(mirrorOf(stateDir));
      const next = await repo.commit({ 'after.yml': 'after the damage\n' }, 'after the damage');

      const revision = await source.fetch();

      assert.equal(revision.sha, next);
      assert.equal(readIn(revision.dir, 'after.yml'), 'after the damage\n');
      const view = source.view({ revision, error: null, lastFetchAt: null });
      assert.match(view.lastRecovery?.reason ?? '', /./);
      assert.match(view.lastRecovery?.at ?? '', isoUtc);
      assert.deepEqual(
        view.history.map((h) => h.sha),
        [next, first.sha],
      );
    });
  }

  it('waits for a lock another git process holds in the mirror, and clones again past a stale one', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source, stateDir } = makeSource(t, dir, { url: repo.origin });
    await source.fetch();
    const next = await repo.commit({ 'n.yml': 'n\n' }, 'next');
    const lock = join(mirrorOf(stateDir), 'shallow.lock');
    writeFileSync(lock, '');

    const busy = await rejection(source.fetch());
    assert.match(busy.message, /the local mirror is busy \(.*shallow\.lock is held by another git process\); retrying/);
    assert.ok(existsSync(lock), 'a fresh lock is left alone');

    const longAgo = new Date(Date.now() - 3_600_000);
    utimesSync(lock, longAgo, longAgo);
    assert.equal((await source.fetch()).sha, next);
    assert.match(source.view({ revision: undefined, error: null, lastFetchAt: null }).lastRecovery?.reason ?? '', /a stale lock/);
  });

  it('with a damaged mirror and an unreachable remote, reports the error and keeps the last good revision', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const { source, stateDir, log } = makeSource(t, dir, { url: repo.origin });
    const watcher = new SourceWatcher(source, 60_000, log, () => undefined);
    t.after(() => watcher.stop());
    await watcher.poll();
    const good = watcher.state.revision?.sha;
    writeFileSync(join(mirrorOf(stateDir), 'HEAD'), 'garbage\n');
    renameSync(repo.origin, `${repo.origin}.gone`);

    await watcher.poll();

    assert.match(watcher.state.error ?? '', /cannot fetch main from .*origin\.git: .*does not appear to be a git repository/);
    assert.equal(watcher.state.revision?.sha, good);
  });

  it('after a restart whose first fetch fails, the last accepted revision from the history is used again', async (t) => {
    const repo = await fleetRepo(t, { 'site.yml': 'kept\n' });
    const dir = scratch(t);
    const { source, restart, log } = makeSource(t, dir, { url: repo.origin });
    const good = await source.fetch();
    renameSync(repo.origin, `${repo.origin}.gone`);

    const seen: Array<[string, boolean]> = [];
    const watcher = new SourceWatcher(restart(), 60_000, log, (revision, first) => seen.push([revision.sha, first]));
    t.after(() => watcher.stop());
    await watcher.poll();

    assert.match(watcher.state.error ?? '', /does not appear to be a git repository/);
    assert.equal(watcher.state.revision?.sha, good.sha);
    assert.equal(readIn(watcher.state.revision!.dir, 'site.yml'), 'kept\n');
    assert.deepEqual(seen, [[good.sha, true]]);
  });
});
