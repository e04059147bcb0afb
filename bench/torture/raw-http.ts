/**
 * HTTP as bytes on a socket: the hostile requests must be able to say things a well-behaved client library
 * refuses to send (bad header characters, conflicting lengths, garbage request lines), and a refusal must be
 * told apart from a reset or a hang.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** How one request went: an HTTP status, or what the socket did instead. */
export type Outcome = { status: number | 'reset' | 'closed' | 'timeout'; ms: number; head: string };

export type HeaderList = ReadonlyArray<readonly [string, string]>;

/**
 * A request's bytes. `Host` and `Connection: close` are added unless given; `Content-Length` is the body's
 * unless given (pass `['content-length', …]` to lie about it).
 */
export function requestBytes(method: string, path: string, headers: HeaderList, body?: Buffer | string): Buffer {
  const names = new Set(headers.map(([name]) => name.toLowerCase()));
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  const lines = [`${method} ${path} HTTP/1.1`];
  if (!names.has('host')) lines.push('Host: 127.0.0.1');
  if (!names.has('connection')) lines.push('Connection: close');
  if (payload && !names.has('content-length') && !names.has('transfer-encoding')) lines.push(`Content-Length: ${payload.length}`);
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload ?? Buffer.alloc(0)]);
}

/** Sends `bytes` on a fresh connection and reads the answer's status line (the socket closes after one answer). */
export function exchange(port: number, bytes: Buffer, timeoutMs: number): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let received = Buffer.alloc(0);
    let settled = false;
    const done = (status: Outcome['status']): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(giveUp);
      socket.destroy();
      const head = received.subarray(0, 2048).toString('latin1');
      const parsed = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      resolve({ status: parsed ? Number(parsed[1]) : status, ms: performance.now() - started, head });
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    // No half-close with the request: Node takes a FIN as the client leaving and drops a streamed answer. A
    // request the server still waits on (a lie about its length) is ended after a while, as a client would.
    const giveUp = setTimeout(() => socket.end(), Math.min(3000, timeoutMs / 2));
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      if (received.length < 65_536) received = Buffer.concat([received, chunk]);
    });
    socket.on('error', () => done(received.length > 0 ? 'closed' : 'reset'));
    socket.on('close', () => done('closed'));
  });
}

/**
 * A client that sends the first `atOnce` bytes of a request, then trickles the rest one byte every `everyMs` and
 * never sends the last one; `stop` tells what the server did meanwhile.
 */
export type SlowClient = { label: string; stop(): { answered: number | null; closedByServerAfterMs: number | null; heldMs: number } };

export function slowClient(port: number, label: string, bytes: Buffer, everyMs: number, atOnce = 0, onClose?: () => void): SlowClient {
  const started = performance.now();
  let answered: number | null = null;
  let closedAfter: number | null = null;
  let sent = Math.min(atOnce, bytes.length - 1);
  const socket: Socket = connect({ host: '127.0.0.1', port });
  socket.on('connect', () => socket.write(bytes.subarray(0, sent)));
  const drip = setInterval(() => {
    // The last byte is never sent: the request stays incomplete for as long as the client lives.
    if (socket.readyState === 'open' && sent < bytes.length - 1) socket.write(bytes.subarray(sent, ++sent));
  }, everyMs);
  drip.unref();
  socket.unref();
  socket.on('data', (chunk: Buffer) => {
    answered ??= Number(/^HTTP\/1\.[01] (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 0);
  });
  let stopped = false;
  const closed = (): void => {
    if (closedAfter !== null) return;
    closedAfter = performance.now() - started;
    clearInterval(drip);
    if (!stopped) onClose?.();
  };
  socket.on('error', closed);
  socket.on('close', closed);
  return {
    label,
    stop() {
      const seen = { answered, closedByServerAfterMs: closedAfter === null ? null : Math.round(closedAfter), heldMs: Math.round(performance.now() - started) };
      stopped = true;
      clearInterval(drip);
      socket.destroy();
      return seen;
    },
  };
}
