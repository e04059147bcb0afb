import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PreviewView } from '../../src/reconcile/previews.js';
import { runCli } from '../helpers/daemon.js';
import { localInventory, playbook } from '../helpers/fleet.js';
import { startDaemonFleet, type RunningDaemon } from '../helpers/running-daemon.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { git } from '../source/support.js';

/** `fleetcd preview REF --wait` against a real daemon: the plan per target, and exit codes like `check`. */

const site = (revision: number, extra = ''): string =>
  playbook(
    '    - name: make the host folder\n      ansible.builtin.file: { path: "{{ host_root }}", state: directory }\n' +
      `    - name: write the file\n      ansible.builtin.copy: { dest: "{{ host_root }}/file", content: "managed by fleetcd\\nrevision ${revision}\\n" }\n${extra}`,
  );
const failing = '    - name: a step that fails\n      ansible.builtin.fail: { msg: "this branch is broken" }\n';

describe('fleetcd preview', () => {
  let hosts: string;
  let daemon: RunningDaemon;
  const cli = (...args: string[]) => runCli({ env: { FLEETCD_TOKEN: daemon.token, NO_COLOR: '1' } }, ...args, '--server', daemon.base);

  /** Pushes a branch holding `files` on top of main, and goes back to main. */
  function pushBranch(branch: string, files: Record<string, string>): string {
    const work = daemon.repo.work;
    git(work, 'checkout', '-q', '-b', branch);
    for (const [path, content] of Object.entries(files)) writeFileSync(join(work, path), content);
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', branch);
    git(work, 'push', '-q', 'origin', branch);
    const sha = git(work, 'rev-parse', 'HEAD');
    git(work, 'checkout', '-q', 'main');
    return sha;
  }

  before(async () => {
    hosts = tempDir('fleetcd-preview-hosts-');
    daemon = await startDaemonFleet(
      { 'playbooks/site.yml': site(1), 'inventories/lab.yml': localInventory(hosts, ['one', 'two']) },
      'reconcile: { mode: detect, interval: 1h }',
    );
    await waitFor('the start-up check', async () => {
      const lab = await daemon.target('lab');
      return lab.lastCheckAt !== null && !lab.running;
    }, 60_000, 200);
  });

  after(async () => {
    await daemon?.cleanup();
    if (hosts) removeDir(hosts);
  });

  test('exit 2 for a branch with changes: each change with its unified diff, the drift already there apart', () => {
    const sha = pushBranch('feature/two', { 'playbooks/site.yml': site(2) });
    const result = cli('preview', 'feature/two', '--wait');
    assert.equal(result.code, 2, result.out + result.err);
    const out = result.out;
    assert.match(out, new RegExp(`^preview #\\d+ of feature/two at ${sha.slice(0, 12)}: succeeded$`, 'm'));
    assert.match(out, /^ {2}requested by api, created .+, took \d+/m);
    assert.match(out, /^ {2}lab: 2 hosts would change, 2 hosts drifted already$/m);
    assert.match(out, /^lab: check run #\d+ succeeded$/m);
    assert.match(out, /^ {2}would change: one \| write the file \(ansible\.builtin\.copy\)$/m);
    assert.ok(out.includes('      --- before\n      +++ after\n      @@ -0,0 +1,2 @@\n      +managed by fleetcd\n      +revision 2\n'), out);
    assert.match(out, /^ {2}drifted already: two \| make the host folder \(ansible\.builtin\.file\)$/m);
    assert.equal(result.err, '');
  });

  test('exit 0 for a branch that changes nothing beyond the drift already there', () => {
    pushBranch('feature/readme', { 'README.md': 'the fleet\n' });
    const result = cli('preview', 'feature/readme', '--wait');
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, /^ {2}lab: no changes, 2 hosts drifted already$/m);
    assert.match(result.out, /^ {2}nothing would change$/m);
  });

  test('exit 1 for a branch whose playbook fails, with the failures', () => {
    pushBranch('feature/broken', { 'playbooks/site.yml': site(1, failing) });
    const result = cli('preview', 'feature/broken', '--wait');
    assert.equal(result.code, 1, result.out + result.err);
    assert.match(result.out, /: failed$/m);
    assert.match(result.out, /^ {2}error: lab: the check failed/m);
    assert.match(result.out, /^ {2}failed: one \| a step that fails: this branch is broken$/m);
  });

  test('--json prints the preview as the API gives it; without --wait the id, exit 0; an unknown target is an error', () => {
    const waited = cli('preview', 'feature/two', '--target', 'lab', '--wait', '--json');
    assert.equal(waited.code, 2, waited.err);
    const view = JSON.parse(waited.out) as PreviewView;
    assert.deepEqual([view.ref, view.status, view.targets.map((t) => t.target)], ['feature/two', 'succeeded', ['lab']]);
    assert.equal(view.targets[0]!.changes.length, 2);

    const queued = cli('preview', 'main');
    assert.equal(queued.code, 0, queued.err);
    assert.match(queued.out, /^preview #\d+ of main queued \(GET \/api\/v1\/previews\/\d+ shows its plan\)\n$/);
    const json = cli('preview', 'main', '--json');
    assert.equal(typeof (JSON.parse(json.out) as { id: number }).id, 'number');

    const unknown = cli('preview', 'main', '--target', 'nope');
    assert.deepEqual([unknown.code, unknown.err], [1, 'fleetcd: unknown target: nope\n']);
  });
});
