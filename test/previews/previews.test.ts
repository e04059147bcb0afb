import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeFleet, type TestFleet } from '../helpers/fleet.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';
import { git } from '../source/support.js';

/*
 * Previews of branches against the live fleet (never applied, never moving the target), and policy gates that
 * hold applies while checks go on.
 */

const site = (motd: boolean) => `- hosts: all
  gather_facts: false
  tasks:
    - name: app config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "version 1\\n" }
${motd ? '    - name: motd\n      ansible.builtin.copy: { dest: "{{ host_root }}/motd", content: "welcome\\n" }\n' : ''}`;

const broken = `- hosts: all
  gather_facts: false
  tasks:
    - name: a step that fails
      ansible.builtin.fail: { msg: "this branch is broken" }
`;

function inventory(root: string, hosts: string[]): string {
  const lines = ['all:', '  vars:', '    ansible_connection: local', '    ansible_python_interpreter: /usr/bin/python3', '  hosts:'];
  for (const host of hosts) lines.push(`    ${host}: { host_root: ${join(root, host)} }`);
  return `${lines.join('\n')}\n`;
}

/** Pushes a branch holding `files` on top of main, and goes back to main. */
function pushBranch(repo: FleetRepo, branch: string, files: Record<string, string>): string {
  git(repo.work, 'checkout', '-q', '-b', branch);
  for (const [path, content] of Object.entries(files)) writeFileSync(join(repo.work, path), content);
  git(repo.work, 'commit', '-q', '-am', `${branch}`);
  git(repo.work, 'push', '-q', 'origin', branch);
  const sha = git(repo.work, 'rev-parse', 'HEAD');
  git(repo.work, 'checkout', '-q', 'main');
  return sha;
}

describe('previews of branches against the live fleet', () => {
  let root: string;
  let repo: FleetRepo;
  let f: TestFleet;

  before(async () => {
    root = tempDir('fleetcd-previews-');
    for (const host of ['w1', 'w2']) {
      mkdirSync(join(root, host), { recursive: true });
      writeFileSync(join(root, host, 'app.conf'), 'version 1\n');
    }
    writeFileSync(join(root, 'w1', 'app.conf'), 'edited by hand\n');
    repo = await createFleetRepo({ 'playbooks/site.yml': site(false), 'inventories/web.yml': inventory(root, ['w1', 'w2']) });
    f = await makeFleet(undefined, { repository: { url: repo.origin }, config: { reconcile: { interval: '1h' } } });
    await waitFor('the start-up check', async () => {
      await f.fleet.reconciler.idle();
      return f.fleet.target('web').lastCheckAt ?? undefined;
    }, 30_000, 100);
  });

  after(async () => {
    await f?.cleanup();
    repo?.cleanup();
    removeDir(root);
  });

  test('a branch that changes both hosts, one of which already drifts: the plan separates the two', async () => {
    const sha = pushBranch(repo, 'feature/motd', { 'playbooks/site.yml': site(true) });
    const finished: number[] = [];
    const off = f.fleet.changes.on('run-finished', ({ run }) => finished.push(run.id));
    const id = f.fleet.previews.start('feature/motd', { requestedBy: 'test' });
    await f.fleet.previews.idle();
    off();
    const preview = f.fleet.previews.view(id);
    assert.equal(preview.status, 'succeeded', preview.error ?? '');
    assert.equal(preview.revision, sha);
    assert.equal(preview.ref, 'feature/motd');
    const [web] = preview.targets;
    assert.deepEqual(web!.changes.map((c) => `${c.host} ${c.task}`).sort(), ['w1 motd', 'w2 motd']);
    assert.deepEqual(web!.existingDrift.map((c) => `${c.host} ${c.task}`), ['w1 app config']);
    assert.equal(f.fleet.run(web!.runId).trigger, 'preview');
    assert.equal(f.fleet.run(web!.runId).previewId, id);
    // Metrics and notifications hear of a target's runs through run-finished: never of a preview's.
    assert.deepEqual(finished, []);
    // The target's own view is untouched: its revision, its last run, its status.
    const target = f.fleet.target('web');
    // web is in detect mode and drifted: it runs no revision fleetcd knows of, and checked the head, not the preview's.
    assert.equal(target.revision, null);
    assert.equal(target.checkedRevision?.sha, repo.head());
    assert.notEqual(target.lastRun?.id, web!.runId);
    assert.equal(target.status, 'drifted');
  });

  test('a branch whose playbook fails: the preview fails and names the failure', async () => {
    pushBranch(repo, 'feature/broken', { 'playbooks/site.yml': broken });
    const id = f.fleet.previews.start('feature/broken');
    await f.fleet.previews.idle();
    const preview = f.fleet.previews.view(id);
    assert.equal(preview.status, 'failed');
    assert.match(preview.error ?? '', /^web: the check failed/);
    assert.deepEqual(preview.targets[0]!.failures.map((x) => [x.host, x.task, x.message]).sort(), [
      ['w1', 'a step that fails', 'this branch is broken'],
      ['w2', 'a step that fails', 'this branch is broken'],
    ]);
  });

  test('an unknown ref fails the preview with the reason; an unknown target is refused at once', async () => {
    const id = f.fleet.previews.start('no-such-branch');
    await f.fleet.previews.idle();
    assert.match(f.fleet.previews.view(id).error ?? '', /no-such-branch is neither a branch nor a tag/);
    assert.throws(() => f.fleet.previews.start('main', { targets: ['nope'] }), /unknown target: nope/);
  });

  test('over the API: 202 with the id, the plan, the list, and a cancel of a finished preview refused', async () => {
    const post = await f.api.inject({ method: 'POST', url: '/api/v1/previews', headers: { authorization: 'Bearer api-token-for-tests', 'content-type': 'application/json' }, payload: JSON.stringify({ ref: 'feature/motd', targets: ['web'] }) });
    assert.equal(post.statusCode, 202, post.body);
    const { id } = post.json() as { id: number };
    await f.fleet.previews.idle();
    const view = await f.api.inject({ method: 'GET', url: `/api/v1/previews/${id}` });
    assert.equal(view.statusCode, 200);
    assert.equal((view.json() as { targets: unknown[] }).targets.length, 1);
    const list = (await f.api.inject({ method: 'GET', url: '/api/v1/previews?limit=2' })).json() as { previews: Array<{ id: number }> };
    assert.equal(list.previews[0]!.id, id);
    const cancel = await f.api.inject({ method: 'POST', url: `/api/v1/previews/${id}/cancel`, headers: { authorization: 'Bearer api-token-for-tests' } });
    assert.equal(cancel.statusCode, 409);
  });

  // Last in this block: it heals w1's drift, which the tests above rely on.
  test("a finished preview's plan is a record: healing the drift afterwards does not turn it into the branch's change", async () => {
    pushBranch(repo, 'feature/motd-record', { 'playbooks/site.yml': site(true) });
    const id = f.fleet.previews.start('feature/motd-record', { targets: ['web'] });
    await f.fleet.previews.idle();
    const planOf = async (): Promise<{ changes: string[]; existingDrift: string[] }> => {
      const answer = await f.api.inject({ method: 'GET', url: `/api/v1/previews/${id}` });
      assert.equal(answer.statusCode, 200, answer.body);
      const [web] = (answer.json() as { targets: Array<{ changes: Array<{ host: string; task: string }>; existingDrift: Array<{ host: string; task: string }> }> }).targets;
      const names = (list: Array<{ host: string; task: string }>): string[] => list.map((c) => `${c.host} ${c.task}`).sort();
      return { changes: names(web!.changes), existingDrift: names(web!.existingDrift) };
    };
    const ended = await planOf();
    assert.deepEqual(ended, { changes: ['w1 motd', 'w2 motd'], existingDrift: ['w1 app config'] });

    const { id: applyId } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'apply', requestedBy: 'test' })[0]!;
    const chain = await f.chain(applyId);
    assert.deepEqual(chain.map((r) => [r.kind, r.status]), [['check', 'succeeded'], ['apply', 'succeeded'], ['check', 'succeeded']]);
    assert.equal(f.fleet.target('web').status, 'in-sync', 'the drift is healed');

    assert.deepEqual(await planOf(), ended, 'the plan reads as it did when the preview ended');
  });
});

describe('policy gates', () => {
  let root: string;
  let repo: FleetRepo;
  let f: TestFleet;

  before(async () => {
    root = tempDir('fleetcd-gates-');
    for (const host of ['l1', 's1']) mkdirSync(join(root, host), { recursive: true });
    repo = await createFleetRepo({
      'playbooks/site.yml': site(false),
      'playbooks/lint-fails.yml': '- hosts: all\n  tasks:\n    - shell: echo hi\n',
      'inventories/linted.yml': inventory(root, ['l1']),
      'inventories/checked.yml': inventory(root, ['s1']),
    });
    f = await makeFleet(undefined, {
      repository: { url: repo.origin },
      config: {
        reconcile: { mode: 'apply', interval: '1h', retry: { limit: 0 } },
        targets: {
          linted: { gates: [{ name: 'lint', command: ['ansible-lint', 'playbooks/lint-fails.yml'] }] },
          checked: { gates: [{ name: 'syntax', command: ['ansible-playbook', '--syntax-check', '-i', 'inventories/checked.yml', 'playbooks/site.yml'] }] },
        },
      },
    });
    await waitFor('the start-up reconciles', async () => {
      await f.fleet.reconciler.idle();
      return f.fleet.target('checked').lastApplyAt ?? undefined;
    }, 60_000, 200);
  });

  after(async () => {
    await f?.cleanup();
    repo?.cleanup();
    removeDir(root);
  });

  test('a failing ansible-lint gate holds the apply while the check runs and reports drift', () => {
    const linted = f.fleet.target('linted');
    assert.equal(linted.status, 'drifted', 'the check ran');
    assert.equal(linted.lastApplyAt, null, 'no apply');
    assert.equal(linted.waiting?.reason, 'gate');
    assert.match(linted.problem ?? '', /^gate lint failed \(exit 2\): /);
    const result = f.stores.gates.get(repo.head(), 'lint', ['ansible-lint', 'playbooks/lint-fails.yml']);
    assert.equal(result?.ok, false);
    assert.match(result?.output ?? '', /fqcn|name\[/);
  });

  test('a passing gate lets the apply go, once per revision', () => {
    const checked = f.fleet.target('checked');
    assert.equal(checked.status, 'in-sync');
    assert.ok(checked.lastApplyAt);
    const result = f.stores.gates.get(repo.head(), 'syntax', ['ansible-playbook', '--syntax-check', '-i', 'inventories/checked.yml', 'playbooks/site.yml']);
    assert.equal(result?.ok, true);
    assert.equal(result?.exitCode, 0);
  });
});
