import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { ForgePoster } from '../../src/forge/index.js';
import { localInventory, makeFleet } from '../helpers/fleet.js';
import { waitFor } from '../helpers/wait.js';
import { commitSigned, sshSigner } from '../source/signing.js';
import { fleetRepo, git, scratch } from '../source/support.js';
import { startLoopbackForge } from './loopback-forge.js';
import { githubPullRequest } from './payloads.js';

/*
 * A same-repository pull request's head runs on the control node during its preview (its ansible.cfg, lookups
 * and requirements), so with `repository.verify` set the head must pass the signature policy the branch does.
 * In-process fleet and API, a real git repository with a pull-request ref, a real forge on 127.0.0.1.
 */

const secret = 'a-long-webhook-secret-for-signed-heads';
const forgeToken = 'forge-token-for-signed-heads';

describe('pull-request previews with repository.verify', () => {
  test('an unsigned head of a same-repository pull request is refused, recorded with the reason and posted as a failure', async (t) => {
    const dir = scratch(t, 'fleetcd-signed-heads-');
    const repo = await fleetRepo(t);
    const trusted = sshSigner(dir, 'trusted');
    const allowedSignersFile = join(dir, 'allowed_signers');
    writeFileSync(allowedSignersFile, `${trusted.allowedSignersLine}\n`, { mode: 0o600 });
    const secretFile = join(dir, 'webhook-secret');
    const tokenFile = join(dir, 'forge-token');
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    writeFileSync(tokenFile, `${forgeToken}\n`, { mode: 0o600 });
    const site = '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: app config\n      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "1\\n" }\n';
    const main = commitSigned(repo, { 'playbooks/site.yml': site, 'inventories/app.yml': localInventory(join(dir, 'hosts'), ['h1']) }, 'signed main', { ssh: trusted });

    const forge = await startLoopbackForge(forgeToken);
    t.after(() => forge.close());
    const f = await makeFleet(undefined, {
      repository: { url: repo.origin, webhookSecretFile: secretFile, verify: { mode: 'ssh', allowedSignersFile } },
      config: { reconcile: { interval: '1h' }, previews: { fromWebhooks: true, forge: { type: 'github', url: forge.url, tokenFile } } },
    });
    t.after(() => f.cleanup());
    const poster = new ForgePoster(f.config, { log: pino({ level: 'silent' }) });
    const off = poster.watch(f.fleet.changes);
    t.after(() => {
      off();
      poster.stop();
    });
    assert.equal(f.fleet.sourceView().sha, main, 'the signed tip of main is accepted');

    // A branch of the watched repository, pushed as the pull request's head without a signature.
    git(repo.work, 'checkout', '-q', '-b', 'feature/unsigned');
    const head = commitSigned(repo, { 'ansible.cfg': '[defaults]\nremote_tmp = /tmp/unsigned-head\n' }, 'an unsigned head', 'unsigned');
    git(repo.work, 'push', '-q', 'origin', 'HEAD:refs/pull/21/head');
    git(repo.work, 'checkout', '-q', 'main');

    const body = JSON.stringify(githubPullRequest({ action: 'opened', number: 21, headSha: head, headRef: 'feature/unsigned' }));
    const answer = await f.api.inject({
      method: 'POST',
      url: '/api/v1/webhooks/git',
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` },
      payload: body,
    });
    assert.equal(answer.statusCode, 202, answer.body);
    const id = (answer.json() as { preview?: number }).preview;
    assert.ok(id, `a preview was recorded: ${answer.body}`);

    await f.fleet.previews.idle();
    const view = f.fleet.previews.view(id);
    assert.equal(view.status, 'failed');
    assert.equal(view.pullRequest?.headSha, head);
    assert.match(view.error ?? '', new RegExp(`^refused commit ${head} \\("an unsigned head"\\): the commit is not signed$`));
    assert.deepEqual(view.targets, [], 'nothing of the head was checked against the fleet');
    assert.equal(existsSync(join(f.stateDir, 'source', 'revisions', head)), false, "the head's tree was never checked out");

    const statuses = await waitFor('a failure status on the head', () => {
      const posted = forge.statuses(head);
      return posted.at(-1)?.body.state === 'failure' ? posted : undefined;
    }, 30_000, 50);
    assert.equal(statuses.at(-1)!.body.context, 'fleetcd/preview');
    assert.match(String(statuses.at(-1)!.body.description), /the commit is not signed/);
    assert.equal(forge.statuses(main).length, 0, 'nothing posted for the base');
  });
});
