/**
 * Replay: one signed push delivery and one signed pull-request delivery, each sent N times with the same delivery
 * id — half at once, half one after another — as a forge retrying, a person clicking "redeliver" or someone
 * replaying a captured request would. Required: one fetch and one preview; every repeat answered 202
 * `{duplicate: true, message: "duplicate delivery"}`.
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SourceView } from '../../src/api/schemas.js';
import type { PreviewView } from '../../src/reconcile/previews.js';
import { githubPullRequest } from '../../test/forge/payloads.js';
import { startDaemonFleet, type RunningDaemon } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { sleep, waitFor } from '../../test/helpers/wait.js';
import { idle, localHosts, scenario, type Mode, type Recorder, type ScenarioResult } from './common.js';

const sizes = { short: { sends: 10 }, full: { sends: 100 } } as const;
const secret = 'torture-replay-secret';
const playbook = '- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: { msg: hi }\n';

type Answer = { status: number; body: Record<string, unknown> };

export function replay(mode: Mode): Promise<ScenarioResult> {
  const { sends } = sizes[mode];
  return scenario('replay', 'Replayed webhook deliveries', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-replay-');
    writeFileSync(join(sandbox, 'webhook-secret'), `${secret}\n`, { mode: 0o600 });
    const d = await startDaemonFleet({ 'playbooks/site.yml': playbook, 'inventories/web.yml': localHosts(sandbox, ['h1']) }, 'reconcile: { interval: 1h }\npreviews: { fromWebhooks: true }', {
      repository: `webhookSecretFile: ${JSON.stringify(join(sandbox, 'webhook-secret'))}`,
    });
    try {
      await idle(d);
      r.step(
        `Started a daemon with a webhook secret and previews.fromWebhooks; once idle, committed to main and sent one signed GitHub push delivery ${sends} times ` +
          `with the same X-GitHub-Delivery (${sends / 2} at once, then ${sends / 2} one after another), then did the same with a pull_request delivery for refs/pull/1/head.`,
      );
      await pushes(r, d, sends);
      await pullRequests(r, d, sends);
    } finally {
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}

async function pushes(r: Recorder, d: RunningDaemon, sends: number): Promise<void> {
  const sha = await d.repo.commit({ 'replayed.yml': 'x\n' }, 'replayed');
  const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
  const answers = await sendRepeatedly(d, body, 'push', 'b1f9c7e0-0000-4000-8000-00000000feed', sends);
  await waitFor('the pushed commit to be in use', async () => (await d.get<SourceView>('/api/v1/source')).sha === sha, 30_000, 50);
  const fetchedAt = (await d.get<SourceView>('/api/v1/source')).lastFetchAt;
  await sleep(1000);
  const fetchedAgain = (await d.get<SourceView>('/api/v1/source')).lastFetchAt !== fetchedAt;
  const fetching = answers.filter((a) => a.body.fetching === true).length;
  const logged = d.process.output().split('\n').filter((line) => line.includes('webhook push: fetching now')).length;
  r.check(`${sends} sends of one push delivery start 1 fetch`, fetching === 1 && logged === 1 && !fetchedAgain, `${fetching} answered fetching, ${logged} "fetching now" log lines, ${fetchedAgain ? 'another fetch after the first' : 'no fetch after the first'}`);
  checkDuplicates(r, 'push', answers, sends);
}

async function pullRequests(r: Recorder, d: RunningDaemon, sends: number): Promise<void> {
  const head = d.repo.head();
  execFileSync('git', ['push', '-q', 'origin', 'HEAD:refs/pull/1/head'], { cwd: d.repo.work, stdio: 'ignore' });
  const body = JSON.stringify(githubPullRequest({ action: 'opened', number: 1, headSha: head, headRef: 'feature/replay' }));
  const answers = await sendRepeatedly(d, body, 'pull_request', 'b1f9c7e0-0000-4000-8000-0000000000pr', sends);
  const ids = [...new Set(answers.flatMap((a) => (typeof a.body.preview === 'number' ? [a.body.preview] : [])))];
  const ended = await Promise.all(ids.map((id) => waitFor(`preview #${id} to end`, async () => {
    const view = await d.get<PreviewView>(`/api/v1/previews/${id}`);
    return view.status === 'queued' || view.status === 'running' ? undefined : view;
  }, 60_000, 100)));
  const { previews } = await d.get<{ previews: PreviewView[] }>('/api/v1/previews?limit=500');
  const ofRequest = previews.filter((p) => p.pullRequest?.number === 1);
  r.check(`${sends} sends of one pull-request delivery start 1 preview`, ofRequest.length === 1 && ids.length === 1, `${ofRequest.length} previews of the request (${ended.map((v) => `#${v.id} ${v.status}`).join(', ')})`);
  checkDuplicates(r, 'pull-request', answers, sends);
}

function checkDuplicates(r: Recorder, what: string, answers: readonly Answer[], sends: number): void {
  const duplicates = answers.filter((a) => a.status === 202 && a.body.duplicate === true && a.body.message === 'duplicate delivery').length;
  const statuses = [...new Set(answers.map((a) => a.status))].join(', ');
  r.check(`the other ${sends - 1} ${what} sends are answered 202 duplicate delivery`, duplicates === sends - 1, `${duplicates} duplicate; statuses ${statuses}`);
}

/** Sends the delivery `sends` times: half at once, then the rest one by one. */
async function sendRepeatedly(d: RunningDaemon, body: string, event: string, delivery: string, sends: number): Promise<Answer[]> {
  const headers = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': delivery,
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
  const send = async (): Promise<Answer> => {
    const response = await fetch(`${d.base}/api/v1/webhooks/git`, { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const answers = await Promise.all(Array.from({ length: Math.ceil(sends / 2) }, send));
  for (let i = answers.length; i < sends; i++) answers.push(await send());
  return answers;
}
