import assert from 'node:assert/strict';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SourceWatcher } from '../../src/reconcile/source-watcher.js';
import { fleetRepo, makeSource, makeWatchedFleet, rejection, scratch, writeFile } from './support.js';
import { commitSigned, gpgSigner, sshSigner } from './signing.js';

const localFleet = {
  'inventories/local.yml': 'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n      ansible_python_interpreter: /usr/bin/python3\n',
  'playbooks/site.yml': '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Say hello\n      ansible.builtin.debug:\n        msg: hello\n',
};

describe('git source: signed commits', () => {
  it('ssh: uses a tip signed by an allowed key', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const trusted = sshSigner(dir, 'trusted');
    const allowedSignersFile = writeFile(join(dir, 'allowed_signers'), `${trusted.allowedSignersLine}\n`);
    const signed = commitSigned(repo, { 'site.yml': 'signed\n' }, 'signed with ssh', { ssh: trusted });
    const { source } = makeSource(t, dir, { url: repo.origin, verify: { mode: 'ssh', allowedSignersFile } });

    const revision = await source.fetch();

    assert.equal(revision.sha, signed);
    assert.equal(source.view({ revision, error: null, lastFetchAt: null }).history[0]?.status, 'accepted');
  });

  for (const [what, sign, reason] of [
    ['an unsigned tip', () => 'unsigned' as const, /the commit is not signed/],
    ['a tip signed by a key not in allowedSignersFile', (dir: string) => ({ ssh: sshSigner(dir, 'stranger') }), /signed by a key that is not in repository\.verify\.allowedSignersFile/],
  ] as const) {
    it(`ssh: refuses ${what}: nothing of it is checked out, the verified revision stays, the refusal is recorded`, async (t) => {
      const repo = await fleetRepo(t);
      const dir = scratch(t);
      const trusted = sshSigner(dir, 'trusted');
      const allowedSignersFile = writeFile(join(dir, 'allowed_signers'), `${trusted.allowedSignersLine}\n`);
      const good = commitSigned(repo, { 'site.yml': 'good\n' }, 'good', { ssh: trusted });
      const { source, stateDir, log } = makeSource(t, dir, { url: repo.origin, verify: { mode: 'ssh', allowedSignersFile } });
      const watcher = new SourceWatcher(source, 60_000, log, () => undefined);
      t.after(() => watcher.stop());
      await watcher.poll();
      assert.equal(watcher.state.revision?.sha, good);

      const bad = commitSigned(repo, { 'site.yml': 'evil\n' }, 'not trusted', sign(dir));
      await watcher.poll();

      assert.equal(watcher.state.revision?.sha, good, 'the last verified revision stays in use');
      assert.match(watcher.state.error ?? '', new RegExp(`^refused commit ${bad} \\("not trusted"\\): `));
      assert.match(watcher.state.error ?? '', reason);
      assert.equal(existsSync(join(stateDir, 'source', 'revisions', bad)), false, 'the refused tree is never written out');
      const [newest, previous] = source.view(watcher.state).history;
      assert.equal(newest?.sha, bad);
      assert.equal(newest?.status, 'refused');
      assert.match(newest?.reason ?? '', reason);
      assert.deepEqual([previous?.sha, previous?.status], [good, 'accepted']);
    });
  }

  it('ssh: a refused tip is accepted on the next poll once its key is added to allowedSignersFile', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const newcomer = sshSigner(dir, 'newcomer');
    const allowedSignersFile = writeFile(join(dir, 'allowed_signers'), `${sshSigner(dir, 'trusted').allowedSignersLine}\n`);
    const tip = commitSigned(repo, { 'site.yml': 'x\n' }, 'by the newcomer', { ssh: newcomer });
    const { source } = makeSource(t, dir, { url: repo.origin, verify: { mode: 'ssh', allowedSignersFile } });
    await rejection(source.fetch());

    appendFileSync(allowedSignersFile, `${newcomer.allowedSignersLine}\n`);
    const revision = await source.fetch();

    assert.equal(revision.sha, tip);
    const history = source.view({ revision, error: null, lastFetchAt: null }).history;
    assert.deepEqual(
      history.map((h) => [h.sha, h.status, h.reason]),
      [[tip, 'accepted', undefined]],
      'the same tip, re-checked: one entry, its status updated',
    );
  });

  it('gpg: uses a tip signed by a key of the keyring file, exported binary or armored', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const signer = gpgSigner(t, dir, 'releaser');
    const signed = commitSigned(repo, { 'site.yml': 'gpg\n' }, 'signed with gpg', { gpg: signer });
    for (const keyringFile of [signer.keyringFile, signer.armoredKeyringFile]) {
      const { source } = makeSource(t, scratch(t), { url: repo.origin, verify: { mode: 'gpg', keyringFile } });
      assert.equal((await source.fetch()).sha, signed, keyringFile);
    }
  });

  it('gpg: refuses an unsigned tip, one signed by another gpg key, and one with an ssh signature', async (t) => {
    const repo = await fleetRepo(t);
    const dir = scratch(t);
    const releaser = gpgSigner(t, dir, 'releaser');
    const outsider = gpgSigner(t, dir, 'outsider');
    const cases = [
      [{ gpg: outsider }, /signed by a key that is not in repository\.verify\.keyringFile/],
      ['unsigned', /the commit is not signed/],
      [{ ssh: sshSigner(dir, 'sshkey') }, /the commit has an SSH signature, but repository\.verify\.mode is gpg/],
    ] as const;
    const good = commitSigned(repo, { 'site.yml': 'good\n' }, 'good', { gpg: releaser });
    const { source, log } = makeSource(t, dir, { url: repo.origin, verify: { mode: 'gpg', keyringFile: releaser.keyringFile } });
    const watcher = new SourceWatcher(source, 60_000, log, () => undefined);
    t.after(() => watcher.stop());
    await watcher.poll();
    assert.equal(watcher.state.revision?.sha, good);

    for (const [signature, reason] of cases) {
      const sha = commitSigned(repo, {}, `case ${reason.source}`, signature);
      await watcher.poll();
      assert.match(watcher.state.error ?? '', reason);
      assert.match(watcher.state.error ?? '', new RegExp(sha));
      assert.equal(watcher.state.revision?.sha, good);
    }
    const refused = source.view(watcher.state).history.filter((h) => h.status === 'refused');
    assert.equal(refused.length, 3);
  });

  it('a refused tip runs nothing: runs stay at the verified revision; status and the source API show the refusal', async (t) => {
    const repo = await fleetRepo(t, { 'README.md': 'fleet\n' });
    const dir = scratch(t);
    const trusted = sshSigner(dir, 'trusted');
    const allowedSignersFile = writeFile(join(dir, 'allowed_signers'), `${trusted.allowedSignersLine}\n`);
    const good = commitSigned(repo, localFleet, 'the fleet, signed', { ssh: trusted });
    const { fleet, api, store } = await makeWatchedFleet(t, dir, { url: repo.origin, verify: { mode: 'ssh', allowedSignersFile } });
    await fleet.reconciler.idle();

    const bad = commitSigned(repo, { 'playbooks/site.yml': '- hosts: all\n  tasks: [{ command: "touch /tmp/pwned" }]\n' }, 'unsigned change', 'unsigned');
    await fleet.fetchNow();
    fleet.reconcile(undefined, { trigger: 'api' });
    await fleet.reconciler.idle();

    const runs = store.list({ limit: 50 });
    assert.ok(runs.length >= 2, 'the startup check and the requested one ran');
    assert.deepEqual([...new Set(runs.map((run) => run.revision))], [good], 'every run used the verified revision');
    const status = fleet.status();
    assert.equal(status.revision?.sha, good);
    assert.match(status.source.error ?? '', new RegExp(`refused commit ${bad}.*not signed`));
    const view = (await api.inject({ method: 'GET', url: '/api/v1/source' })).json() as {
      sha: string;
      lastError: string;
      history: Array<{ sha: string; status: string; reason?: string }>;
    };
    assert.equal(view.sha, good);
    assert.match(view.lastError, /not signed/);
    assert.deepEqual(view.history[0], { ...view.history[0], sha: bad, status: 'refused', reason: 'the commit is not signed' });
  });
});
