import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '../helpers/daemon.js';

/** One request a receiver got. */
export type Received = { path: string; headers: IncomingHttpHeaders; body: string; json: Record<string, unknown>; receivedAt: number };

/** Real HTTP receivers on 127.0.0.1: one that answers, one where nothing listens, one that never answers. */
export type Receivers = {
  /** Answers 200 to every POST and keeps what it got. */
  answering: { url: (path: string) => string; received: Received[]; at: (path: string) => Received[] };
  /** A port nothing listens on. */
  down: { url: (path: string) => string };
  /** Reads each request and never answers; `requests` counts them. */
  hanging: { url: (path: string) => string; requests: Received[] };
  close(): Promise<void>;
};

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function record(into: Received[], answer: boolean): Server {
  return createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // kept as text
      }
      into.push({ path: request.url ?? '', headers: request.headers, body, json, receivedAt: Date.now() });
      if (answer) response.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
}

export async function startReceivers(): Promise<Receivers> {
  const received: Received[] = [];
  const requests: Received[] = [];
  const answering = record(received, true);
  const hanging = record(requests, false);
  const answeringBase = await listen(answering);
  const hangingBase = await listen(hanging);
  const downBase = `http://127.0.0.1:${await freePort()}`;
  return {
    answering: { url: (path) => `${answeringBase}${path}`, received, at: (path) => received.filter((r) => r.path === path) },
    down: { url: (path) => `${downBase}${path}` },
    hanging: { url: (path) => `${hangingBase}${path}`, requests },
    async close() {
      for (const server of [answering, hanging]) {
        server.closeAllConnections();
        server.close();
      }
    },
  };
}
