import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { DeliveryStore } from './delivery-store.js';
import { bodyFor } from './payload.js';
import { readSecretHeader, type SecretHeader } from './secret-header.js';
import { postOnce, type AttemptOutcome } from './send.js';
import type { Notice, Receiver } from './types.js';

/** How hard a delivery is tried, and how much may wait for one receiver. */
export type DeliveryPolicy = {
  /** One attempt, from connect to the end of the answer. */
  timeoutMs: number;
  /** Attempts in all, the first included. */
  attempts: number;
  /** The wait after the first failed attempt; it doubles after each one (1 s, 2 s, 4 s, 8 s). */
  firstBackoffMs: number;
  /** Deliveries waiting behind the one being tried; past it the oldest waiting one is dropped. */
  maxWaiting: number;
};

export const defaultDeliveryPolicy: DeliveryPolicy = { timeoutMs: 5_000, attempts: 5, firstBackoffMs: 1_000, maxWaiting: 100 };

/** A delivery in memory: its record's id and what to send. */
export type Job = { id: number; notice: Notice };

/**
 * One receiver's deliveries, tried one at a time in order, in the background: a receiver that hangs or is
 * down holds only its own queue, and nothing here is ever awaited by a run. Every attempt is recorded.
 */
export class ReceiverQueue {
  private readonly waiting: Job[] = [];
  private current: Job | undefined;
  private draining = false;
  private readonly stopping = new AbortController();

  constructor(
    private receiver: Receiver,
    private readonly deps: { store: DeliveryStore; log: Logger; policy: DeliveryPolicy },
  ) {}

  /** A reloaded config's version of this receiver (URL, format, secret file): used from the next attempt. */
  update(receiver: Receiver): void {
    this.receiver = receiver;
  }

  /** Queues a recorded delivery; when the queue is full the oldest waiting one is dropped, and recorded so. */
  push(job: Job): void {
    if (this.stopping.signal.aborted) {
      this.deps.store.giveUp(job.id, 'abandoned: notification stopped');
      return;
    }
    this.waiting.push(job);
    while (this.waiting.length > this.deps.policy.maxWaiting) {
      const dropped = this.waiting.shift()!;
      this.deps.store.giveUp(dropped.id, 'dropped: queue full');
      this.deps.log.warn(this.logFields(dropped), 'notification dropped: queue full');
    }
    if (!this.draining) void this.drain();
  }

  /** Stops at once: the attempt in flight is aborted, and it and every waiting delivery are recorded abandoned. */
  stop(why: string): void {
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    for (const job of [this.current, ...this.waiting.splice(0)]) if (job) this.deps.store.giveUp(job.id, `abandoned: ${why}`);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let job = this.waiting.shift(); job && !this.stopping.signal.aborted; job = this.waiting.shift()) {
        this.current = job;
        await this.deliver(job);
        this.current = undefined;
      }
    } catch (error) {
      // The record failed (the database closed under a stop); nothing more can be recorded.
      this.deps.log.error({ notification: this.receiver.name, err: messageOf(error) }, 'notification queue stopped');
    } finally {
      this.draining = false;
    }
  }

  /** Attempts with exponential backoff until one succeeds, one fails for good, or the attempts run out. */
  private async deliver(job: Job): Promise<void> {
    const { store, log, policy } = this.deps;
    for (let attempt = 1; ; attempt++) {
      store.attemptStarted(job.id);
      const outcome = await this.attempt(job);
      if (this.stopping.signal.aborted) return; // stop() recorded it
      const last = outcome.ok || !outcome.retryable || attempt >= policy.attempts;
      const status = outcome.ok ? 'delivered' : last ? 'failed' : 'pending';
      store.attemptEnded(job.id, { status, httpStatus: outcome.httpStatus, error: outcome.ok ? null : outcome.error });
      if (outcome.ok) log.info({ ...this.logFields(job), attempt, httpStatus: outcome.httpStatus }, 'notification delivered');
      else log.warn({ ...this.logFields(job), attempt, httpStatus: outcome.httpStatus, err: outcome.error, final: last }, 'notification attempt failed');
      if (last) return;
      const backoff = policy.firstBackoffMs * 2 ** (attempt - 1);
      await sleep(backoff, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      if (this.stopping.signal.aborted) return;
    }
  }

  private async attempt(job: Job): Promise<AttemptOutcome> {
    const receiver = this.receiver;
    let secret: SecretHeader | undefined;
    try {
      secret = readSecretHeader(receiver);
    } catch (error) {
      return { ok: false, httpStatus: null, error: messageOf(error), retryable: false };
    }
    return postOnce({
      url: receiver.url,
      body: bodyFor(receiver.format, job.notice),
      headers: secret ? { [secret.name]: secret.value } : {},
      timeoutMs: this.deps.policy.timeoutMs,
      signal: this.stopping.signal,
      redact: secret ? [secret.value, receiver.url] : [receiver.url],
    });
  }

  /** What a log line says of a delivery: never the URL (a Slack webhook URL is a secret) nor the header. */
  private logFields(job: Job): Record<string, unknown> {
    return { notification: this.receiver.name, event: job.notice.event, target: job.notice.target, runId: job.notice.run?.id ?? null, delivery: job.id };
  }
}
