/**
 * Slow clients by the hundred: sockets that trickle a request one byte at a time and never finish it, kept at
 * a constant number (one the server closes is replaced at once, as an attacker would do), and an idle
 * keep-alive socket. What the first generation saw says whether the server closed them within its timeouts.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { requestBytes, slowClient, type SlowClient } from './raw-http.js';

/** Headers that never end; a webhook body, and a reconcile body, that never end after complete headers. */
export const slowKinds = ['headers', 'webhook body', 'reconcile body'] as const;
export type SlowKind = (typeof slowKinds)[number];

export type SlowFate = { kind: SlowKind; answered: number | null; closedByServerAfterMs: number | null; heldMs: number };

export type SlowCrowd = {
  /** Sockets of the crowd open now. */
  open(): number;
  /** Ends every socket; the fates of the first `size` (the ones that started at once) and how many replaced them. */
  stop(): { first: SlowFate[]; replacements: number };
};

export function slowCrowd(port: number, size: number, options: { everyMs: number; token: string }): SlowCrowd {
  const first: Array<{ kind: SlowKind; client: SlowClient }> = [];
  const live = new Set<SlowClient>();
  let replacements = 0;
  let stopped = false;
  const start = (i: number, initial: boolean): void => {
    const kind = slowKinds[i % slowKinds.length]!;
    const { bytes, atOnce } = slowRequest(kind, options.token);
    const client: SlowClient = slowClient(port, `${kind} #${i}`, bytes, options.everyMs, atOnce, () => {
      live.delete(client);
      if (stopped) return;
      replacements += 1;
      start(i, false);
    });
    live.add(client);
    if (initial) first.push({ kind, client });
  };
  for (let i = 0; i < size; i++) start(i, true);
  return {
    open: () => live.size,
    stop() {
      stopped = true;
      const fates = first.map(({ kind, client }) => ({ kind, ...client.stop() }));
      for (const client of live) client.stop();
      return { first: fates, replacements };
    },
  };
}

function slowRequest(kind: SlowKind, token: string): { bytes: Buffer; atOnce: number } {
  if (kind === 'headers') return { bytes: requestBytes('GET', '/api/v1/status', [['X-Slow', 's'.repeat(200)]]), atOnce: 0 };
  const bytes =
    kind === 'webhook body'
      ? requestBytes('POST', '/api/v1/webhooks/git', [['Content-Type', 'application/json'], ['X-GitHub-Event', 'push'], ['X-Hub-Signature-256', `sha256=${'0'.repeat(64)}`]], `{"ref":"refs/heads/main","pad":"${'x'.repeat(200)}"}`)
      : requestBytes('POST', '/api/v1/reconcile', [['Authorization', `Bearer ${token}`], ['Content-Type', 'application/json']], `{"targets":["nope"],"pad":"${'x'.repeat(200)}"}`);
  return { bytes, atOnce: bytes.indexOf('\r\n\r\n') + 4 };
}

/**
 * A keep-alive connection that asks for `/healthz` once and then says nothing: resolves with how long after the
 * answer the server closed it (null if it was still open after `giveUpMs`).
 */
export function idleKeepAlive(port: number, giveUpMs: number): Promise<{ answered: number | null; closedAfterAnswerMs: number | null }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answeredAt: number | null = null;
    let answered: number | null = null;
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answered, closedAfterAnswerMs: closed && answeredAt !== null ? Math.round(performance.now() - answeredAt) : null });
    };
    const timer = setTimeout(() => done(false), giveUpMs);
    socket.on('connect', () => socket.write(requestBytes('GET', '/healthz', [['Connection', 'keep-alive']])));
    socket.on('data', (chunk: Buffer) => {
      answeredAt ??= performance.now();
      answered ??= Number(/^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
    });
    socket.on('error', () => done(true));
    socket.on('close', () => done(true));
  });
}
