import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { authenticateWebhook, parsePush, pushDecision } from '../../src/source/index.js';

const secret = 'webhook-secret';
const body = Buffer.from('{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567"}');
const hmac = (data: Buffer, key = secret): string => createHmac('sha256', key).update(data).digest('hex');

describe('webhook signatures and payloads', () => {
  it('accepts GitHub’s X-Hub-Signature-256 over the raw body and refuses any other body or secret', () => {
    assert.deepEqual(authenticateWebhook({ 'x-hub-signature-256': `sha256=${hmac(body)}`, 'x-github-event': 'push' }, body, secret), {
      provider: 'github',
    });
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    assert.match(
      (authenticateWebhook({ 'x-hub-signature-256': `sha256=${hmac(body)}` }, reserialised, secret) as { error: string }).error,
      /does not match/,
    );
    assert.match(
      (authenticateWebhook({ 'x-hub-signature-256': `sha256=${hmac(body, 'other')}` }, body, secret) as { error: string }).error,
      /does not match/,
    );
    assert.match(
      (authenticateWebhook({ 'x-hub-signature-256': hmac(body) }, body, secret) as { error: string }).error,
      /must be sha256=<hex/,
    );
  });

  it('accepts the Gitea family’s hex HMAC and GitLab’s token, naming the provider', () => {
    assert.deepEqual(authenticateWebhook({ 'x-gitea-signature': hmac(body), 'x-gitea-event': 'push' }, body, secret), { provider: 'gitea' });
    assert.deepEqual(
      authenticateWebhook({ 'x-forgejo-signature': hmac(body), 'x-gitea-signature': hmac(body), 'x-forgejo-event': 'push' }, body, secret),
      { provider: 'forgejo' },
    );
    assert.deepEqual(
      authenticateWebhook({ 'x-hub-signature-256': `sha256=${hmac(body)}`, 'x-gitea-event': 'push', 'x-github-event': 'push' }, body, secret),
      { provider: 'gitea' },
      'Gitea also sends the GitHub header',
    );
    assert.deepEqual(authenticateWebhook({ 'x-gitlab-token': secret, 'x-gitlab-event': 'Push Hook' }, body, secret), { provider: 'gitlab' });
    assert.match((authenticateWebhook({ 'x-gitlab-token': 'guess' }, body, secret) as { error: string }).error, /X-Gitlab-Token/);
    assert.match((authenticateWebhook({ 'x-gitea-signature': hmac(body, 'x') }, body, secret) as { error: string }).error, /X-Gitea-Signature/);
  });

  it('refuses a delivery with no signature, naming the headers it looks for', () => {
    const result = authenticateWebhook({ 'content-type': 'application/json' }, body, secret);
    assert.match((result as { error: string }).error, /X-Hub-Signature-256.*X-Gitlab-Token.*X-Gitea-Signature/);
  });

  it('reads JSON and GitHub’s form-encoded payloads', () => {
    const json = parsePush('github', { 'x-github-event': 'push', 'content-type': 'application/json' }, body);
    assert.deepEqual(json, { provider: 'github', event: 'push', ref: 'refs/heads/main', after: '0123456789abcdef0123456789abcdef01234567' });
    const form = Buffer.from(`payload=${encodeURIComponent(body.toString())}`);
    const parsed = parsePush('github', { 'x-github-event': 'push', 'content-type': 'application/x-www-form-urlencoded' }, form);
    assert.equal(parsed.ref, 'refs/heads/main');
    const gitlab = parsePush('gitlab', { 'x-gitlab-event': 'Push Hook' }, Buffer.from('{"ref":"refs/heads/main","checkout_sha":"abc"}'));
    assert.deepEqual([gitlab.event, gitlab.after], ['Push Hook', 'abc']);
    assert.throws(() => parsePush('github', {}, Buffer.from('not json')), /not JSON/);
    assert.throws(() => parsePush('github', {}, Buffer.from('[1]')), /JSON object/);
  });

  it('fetches for a push to the watched branch only', () => {
    const push = (event: string | null, ref: string | null) => ({ provider: 'github' as const, event, ref, after: null });
    assert.deepEqual(pushDecision(push('push', 'refs/heads/main'), { branch: 'main' }), { action: 'fetch' });
    assert.deepEqual(pushDecision(push('Push Hook', 'refs/heads/prod'), { branch: 'prod' }), { action: 'fetch' });
    assert.deepEqual(pushDecision(push(null, 'refs/heads/main'), { branch: 'main' }), { action: 'fetch' });
    assert.deepEqual(pushDecision(push('ping', null), { branch: 'main' }), { action: 'ping' });
    assert.deepEqual(pushDecision(push('push', 'refs/heads/feature'), { branch: 'main' }), {
      action: 'ignore',
      reason: 'push to refs/heads/feature; watching refs/heads/main',
    });
    assert.equal(pushDecision(push('push', 'refs/tags/main'), { branch: 'main' }).action, 'ignore');
    assert.match((pushDecision(push('issues', 'refs/heads/main'), { branch: 'main' }) as { reason: string }).reason, /not a push/);
    assert.match((pushDecision(push('push', 'refs/heads/main'), { revision: 'v1' }) as { reason: string }).reason, /pins v1/);
  });
});
