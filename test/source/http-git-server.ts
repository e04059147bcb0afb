import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A git smart-HTTP server on 127.0.0.1 (git http-backend behind Basic auth), for credential tests. */
export type HttpGitServer = {
  /** `http://127.0.0.1:PORT/<name>` for a bare repository directly under the project root. */
  url(name: string): string;
  /** Every Authorization header received, in order (undefined when a request had none). */
  readonly authorizations: ReadonlyArray<string | undefined>;
  stop(): Promise<void>;
};

/**
 * Serves the bare repositories under `projectRoot`, answering 401 (with a Basic challenge) unless the request
 * carries exactly `username:password`. `delayMs` holds each response back, so a test can watch a fetch in flight.
 */
export async function startHttpGitServer(
  projectRoot: string,
  credentials: { username: string; password: string },
  delayMs = 0,
): Promise<HttpGitServer> {
  const expected = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
  const authorizations: Array<string | undefined> = [];
  const server = createServer((request, response) => {
    authorizations.push(request.headers.authorization);
    if (request.headers.authorization !== expected) {
      request.resume();
      response.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fleet"' }).end('unauthorized\n');
      return;
    }
    setTimeout(() => serveGit(projectRoot, credentials.username, request, response), delayMs);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    authorizations,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function serveGit(projectRoot: string, user: string, request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: request.method ?? 'GET',
      CONTENT_TYPE: request.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: request.headers['content-encoding'] ?? '',
      GIT_PROTOCOL: String(request.headers['git-protocol'] ?? ''),
      REMOTE_USER: user,
      REMOTE_ADDR: '127.0.0.1',
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  request.pipe(child.stdin);
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  child.on('close', () => {
    const output = Buffer.concat(chunks);
    const crlf = output.indexOf('\r\n\r\n');
    const split = crlf !== -1 ? crlf : output.indexOf('\n\n');
    const gap = crlf !== -1 ? 4 : 2;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of output.subarray(0, split).toString('latin1').split(/\r?\n/)) {
      const colon = line.indexOf(':');
      if (colon === -1) continue;
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    response.writeHead(status, headers).end(output.subarray(split + gap));
  });
}
