import { setTimeout as sleep } from 'node:timers/promises';
import { readSecretFile, type Config } from '../config/index.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { pageBase } from '../notify/payload.js';
import { postOnce } from '../notify/send.js';
import type { FleetEvents } from '../reconcile/events.js';
import type { PreviewView } from '../reconcile/previews.js';
import { forgeFamily } from '../source/index.js';
import { commentBody } from './comment.js';
import { authHeaders, commentRequest, statusRequest, type ForgeRequest } from './requests.js';
import { previewEnded, previewStatus } from './summary.js';

/** How hard a post to the forge is tried, and how much may wait. */
export type ForgePolicy = { timeoutMs: number; attempts: number; firstBackoffMs: number; maxWaiting: number };

export const defaultForgePolicy: ForgePolicy = { timeoutMs: 5_000, attempts: 4, firstBackoffMs: 1_000, maxWaiting: 200 };

/** One post waiting: a status is `sha`'s (a newer one for the same sha replaces it while it waits). */
type Job = { request: ForgeRequest; what: 'status' | 'comment'; sha: string; preview: number; about: Record<string, unknown> };

/** The previews whose last handled state is remembered, so a repeated announcement posts nothing. */
const rememberedPreviews = 1000;

/**
 * Tells the forge about previews of pull requests: a commit status on the head (pending while the preview is
 * queued or running, then success or failure; a superseded or cancelled one as the forge's error-like state),
 * and with `previews.comment` a comment holding the plan once the preview ended. Posts happen in the
 * background, one pull request's in order, each with a timeout and a few retries: a dead forge never holds a
 * preview or a run. The token is read from its file at each post and never logged.
 */
export class ForgePoster {
  private readonly queues = new Map<string, { waiting: Job[]; running: Promise<void> }>();
  private readonly handled = new Map<number, string>();
  private readonly stopping = new AbortController();
  private waitingCount = 0;

  constructor(
    private config: Pick<Config, 'previews' | 'api'>,
    private readonly deps: { log: Logger; policy?: ForgePolicy },
  ) {}

  /** Subscribes to the fleet's preview announcements; returns the unsubscribe. */
  watch(events: FleetEvents): () => void {
    return events.on('preview', (view) => this.onPreview(view));
  }

  /** A reloaded config (forge, token file, comment, links): used from the next post. */
  reconfigure(config: Pick<Config, 'previews' | 'api'>): void {
    this.config = config;
  }

  /** Drops what waits and aborts the post in flight. */
  stop(): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    if (this.waitingCount > 0) this.deps.log.warn({ abandoned: this.waitingCount }, 'forge posts abandoned: fleetcd stopped');
    for (const queue of this.queues.values()) queue.waiting.splice(0);
    this.waitingCount = 0;
  }

  /** Resolves once nothing waits or is being posted (tests, benches). */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()].map((q) => q.running));
  }

  private onPreview(view: PreviewView): void {
    const pr = view.pullRequest;
    const forge = this.config.previews.forge;
    if (!pr || !forge || this.stopping.signal.aborted) return;
    if (forgeFamily(pr.provider) !== forge.type) {
      this.deps.log.warn({ preview: view.id, provider: pr.provider, forge: forge.type }, 'preview of a pull request from another forge than previews.forge: no status posted');
      return;
    }
    const status = previewStatus(view);
    if (this.handled.get(view.id) === status.state) return;
    this.remember(view.id, status.state);
    const link = `${pageBase(this.config.api)}/#/previews/${view.id}`;
    const about = { preview: view.id, forge: forge.type, repository: pr.repository, number: pr.number, sha: pr.headSha };
    const request = statusRequest(forge, pr.repository, pr.headSha, { ...status, targetUrl: link });
    this.enqueue(queueKey(pr), { request, what: 'status', sha: pr.headSha, preview: view.id, about: { ...about, state: status.state } });
    if (this.config.previews.comment && previewEnded(view) && view.status !== 'cancelled') {
      const comment = commentRequest(forge, pr.repository, pr.number, commentBody(view, link));
      this.enqueue(queueKey(pr), { request: comment, what: 'comment', sha: pr.headSha, preview: view.id, about });
    }
  }

  private remember(id: number, state: string): void {
    this.handled.delete(id);
    this.handled.set(id, state);
    if (this.handled.size > rememberedPreviews) this.handled.delete(this.handled.keys().next().value!);
  }

  /** Queues a post behind the pull request's others; a status waiting for the same sha is replaced. */
  private enqueue(key: string, job: Job): void {
    const policy = this.deps.policy ?? defaultForgePolicy;
    let queue = this.queues.get(key);
    if (queue && job.what === 'status') {
      const before = queue.waiting.length;
      queue.waiting = queue.waiting.filter((j) => j.what !== 'status' || j.sha !== job.sha);
      this.waitingCount -= before - queue.waiting.length;
    }
    if (this.waitingCount >= policy.maxWaiting) {
      this.deps.log.warn({ ...job.about, what: job.what }, 'forge post dropped: too many waiting');
      return;
    }
    this.waitingCount++;
    if (queue) {
      queue.waiting.push(job);
      return;
    }
    queue = { waiting: [job], running: Promise.resolve() };
    this.queues.set(key, queue);
    queue.running = this.drain(key, queue);
  }

  /** Posts the queue's jobs in order; the queue goes as soon as it is found empty, in the same turn. */
  private async drain(key: string, queue: { waiting: Job[] }): Promise<void> {
    for (let job = queue.waiting.shift(); job && !this.stopping.signal.aborted; job = queue.waiting.shift()) {
      this.waitingCount--;
      await this.deliver(job).catch((error: unknown) => this.deps.log.error({ ...job!.about, err: messageOf(error) }, 'forge post failed'));
    }
    this.queues.delete(key);
  }

  /** Attempts with exponential backoff until one succeeds, one fails for good, or the attempts run out. */
  private async deliver(job: Job): Promise<void> {
    const policy = this.deps.policy ?? defaultForgePolicy;
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const forge = this.config.previews.forge;
      if (!forge) return;
      let token: string;
      try {
        token = readSecretFile(forge.tokenFile, 'previews.forge.tokenFile');
      } catch (error) {
        this.deps.log.warn({ ...job.about, what: job.what, err: messageOf(error) }, 'forge post not sent: no token');
        return;
      }
      const outcome = await postOnce({
        url: job.request.url,
        body: JSON.stringify(job.request.body),
        headers: authHeaders(forge.type, token),
        timeoutMs: policy.timeoutMs,
        signal: this.stopping.signal,
        redact: [token],
      });
      if (this.stopping.signal.aborted) return;
      const fields = { ...job.about, what: job.what, attempt, httpStatus: outcome.httpStatus, ms: Date.now() - started };
      if (outcome.ok) {
        this.deps.log.info(fields, 'forge post delivered');
        return;
      }
      const last = !outcome.retryable || attempt >= policy.attempts;
      this.deps.log.warn({ ...fields, err: outcome.error, final: last }, 'forge post attempt failed');
      if (last) return;
      await sleep(policy.firstBackoffMs * 2 ** (attempt - 1), undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
  }
}

/** One queue per pull request: its posts keep their order (pending before success, the old head before the new). */
function queueKey(pr: NonNullable<PreviewView['pullRequest']>): string {
  return `${pr.provider}\n${pr.repository}\n${pr.number}`;
}
