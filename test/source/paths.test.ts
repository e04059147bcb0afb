import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { resolveTargets } from '../../src/reconcile/targets.js';
import { SourceWatcher } from '../../src/reconcile/source-watcher.js';
import type { FleetRepo } from '../helpers/git.js';
import { fleetRepo, git, makeSource, rejection, scratch } from './support.js';

const playbook = '- hosts: all\n  gather_facts: false\n  tasks: []\n';
const inventory = 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n';

/** Commits symlinks (path → target, as written) and files in the work clone and pushes them. */
function commitLinks(repo: FleetRepo, links: Record<string, string>, files: Record<string, string> = {}): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repo.work, path)), { recursive: true });
    writeFileSync(join(repo.work, path), content);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(repo.work, path)), { recursive: true });
    symlinkSync(target, join(repo.work, path));
  }
  git(repo.work, 'add', '-A');
  git(repo.work, 'commit', '-q', '-m', `links: ${Object.keys(links).join(', ')}`);
  git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return git(repo.work, 'rev-parse', 'HEAD');
}

describe('git source: paths stay inside the checkout', () => {
  for (const [what, links, reason] of [
    ['repository.path is a symlink to a host folder', { fleet: '/etc' }, /^repository\.path fleet: fleet is a symlink to \/etc, outside the repository checkout$/],
    ['repository.path is a chain of symlinks whose last hop leaves', { fleet: 'inner', inner: '/etc' }, /^repository\.path fleet: fleet is a symlink to \/etc, outside/],
    ['repository.path is a dangling symlink', { fleet: '/nonexistent/fleetcd-test' }, /^repository\.path fleet: fleet is a symlink that points to nothing$/],
    ['requirements.yml is a symlink to a host file', { 'fleet/requirements.yml': '/etc/passwd' }, /^requirements\.yml: fleet\/requirements\.yml is a symlink to \/etc\/passwd, outside/],
  ] as const) {
    it(`refuses a revision where ${what}, and keeps the last good one`, async (t) => {
      const repo = await fleetRepo(t, { 'fleet/playbooks/site.yml': playbook });
      const dir = scratch(t);
      const { source, log } = makeSource(t, dir, { url: repo.origin, path: 'fleet' });
      const watcher = new SourceWatcher(source, 60_000, log, () => undefined);
      t.after(() => watcher.stop());
      await watcher.poll();
      const good = watcher.state.revision?.sha;
      git(repo.work, 'rm', '-rq', 'fleet');
      const bad = commitLinks(repo, links);

      await watcher.poll();

      assert.equal(watcher.state.revision?.sha, good);
      assert.match(watcher.state.error ?? '', new RegExp(`^refused commit ${bad}`));
      const [newest] = source.view(watcher.state).history;
      assert.equal(newest?.status, 'refused');
      assert.match(newest?.reason ?? '', reason);
    });
  }

  it('accepts a repository.path that is a symlink to another folder inside the checkout', async (t) => {
    const repo = await fleetRepo(t, { 'real/playbooks/site.yml': playbook, 'real/inventories/web.yml': inventory });
    const sha = commitLinks(repo, { fleet: 'real' });
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin, path: 'fleet' });

    const revision = await source.fetch();

    assert.equal(revision.sha, sha);
    assert.equal(revision.root, join(revision.dir, 'fleet'));
    const config = parseConfig({ repository: { url: repo.origin, path: 'fleet' } }, join(dir, 'fleetcd.yaml'));
    assert.deepEqual(
      resolveTargets(config, revision.root).map((target) => [target.name, target.problem]),
      [['web', undefined]],
    );
  });

  it('a first revision with an escaping repository.path is refused outright: nothing is in use', async (t) => {
    const repo = await fleetRepo(t);
    const bad = commitLinks(repo, { fleet: '/' });
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin, path: 'fleet' });

    const error = await rejection(source.fetch());

    assert.match(error.message, new RegExp(`refused commit ${bad}.*fleet is a symlink to /, outside the repository checkout`));
  });

  it('an inventory, an inventories folder or a playbook that escapes the checkout is an error of that target only', async (t) => {
    const outside = scratch(t, 'fleetcd-outside-');
    writeFileSync(join(outside, 'hosts.yml'), inventory);
    mkdirSync(join(outside, 'inv'));
    writeFileSync(join(outside, 'inv', 'hosts.yml'), inventory);
    writeFileSync(join(outside, 'play.yml'), playbook);
    const repo = await fleetRepo(t, { 'playbooks/site.yml': playbook, 'inventories/good.yml': inventory });
    commitLinks(
      repo,
      { 'inventories/linked.yml': join(outside, 'hosts.yml'), 'inventories/folder': join(outside, 'inv'), 'playbooks/evil.yml': join(outside, 'play.yml') },
      { 'inventories/sneaky.yml': inventory },
    );
    const dir = scratch(t);
    const { source } = makeSource(t, dir, { url: repo.origin });
    const revision = await source.fetch();
    const config = parseConfig({ repository: { url: repo.origin }, targets: { sneaky: { playbook: 'playbooks/evil.yml' } } }, join(dir, 'fleetcd.yaml'));

    const problems = Object.fromEntries(resolveTargets(config, revision.root).map((target) => [target.name, target.problem]));

    assert.equal(problems.good, undefined, 'the other targets still run');
    assert.match(problems.linked ?? '', /inventories\/linked\.yml resolves outside the repository checkout/);
    assert.match(problems.folder ?? '', /inventories\/folder resolves outside the repository checkout/);
    assert.match(problems.sneaky ?? '', /playbooks\/evil\.yml resolves outside the repository checkout/);
  });

  it('a repository.path or a playbook with .. is refused by the config before anything is fetched', () => {
    for (const raw of [
      { repository: { url: '/srv/fleet.git', path: '../etc' } },
      { repository: { url: '/srv/fleet.git', path: 'fleet/../../etc' } },
      { repository: { url: '/srv/fleet.git' }, targets: { web: { playbook: '../../etc/site.yml' } } },
    ]) {
      assert.throws(() => parseConfig(raw, 'fleetcd.yaml'), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, /must be a relative path inside the repository, without \.\. segments/);
        return true;
      });
    }
  });
});
