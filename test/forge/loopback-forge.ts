import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the forge received, with what fleetcd sent. */
export type ForgeRequestSeen = {
  at: number;
  forge: 'github' | 'gitlab' | 'gitea';
  kind: 'status' | 'comment';
  /** owner/name, or GitLab's project id. */
  repository: string;
  /** The commit of a status, the pull-request number of a comment. */
  sha?: string;
  number?: number;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  answered: number;
};

/** The endpoints fleetcd uses, per forge, with their own paths. */
const routes: Array<{ forge: ForgeRequestSeen['forge']; kind: ForgeRequestSeen['kind']; pattern: RegExp }> = [
  { forge: 'gitlab', kind: 'status', pattern: /^\/api\/v4\/projects\/([^/]+)\/statuses\/([0-9a-f]{40})$/ },
  { forge: 'gitlab', kind: 'comment', pattern: /^\/api\/v4\/projects\/([^/]+)\/merge_requests\/(\d+)\/notes$/ },
  { forge: 'gitea', kind: 'status', pattern: /^\/api\/v1\/repos\/([^/]+\/[^/]+)\/statuses\/([0-9a-f]{40})$/ },
  { forge: 'gitea', kind: 'comment', pattern: /^\/api\/v1\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/ },
  { forge: 'github', kind: 'status', pattern: /^\/repos\/([^/]+\/[^/]+)\/statuses\/([0-9a-f]{40})$/ },
  { forge: 'github', kind: 'comment', pattern: /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/ },
];

/**
 * A forge on 127.0.0.1 that speaks the few endpoints fleetcd posts to (commit statuses and comments of
 * GitHub, GitLab and Gitea), checks each forge's auth header, and records every request. `failNext` makes
 * the next requests of a kind answer 502, as a forge having a bad moment does.
 */
export async function startLoopbackForge(token: string) {
  const seen: ForgeRequestSeen[] = [];
  const failures = { status: 0, comment: 0 };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const path = decodeURIComponent(new URL(request.url ?? '/', 'http://forge').pathname);
      const route = routes.find((r) => r.pattern.test(path));
      const send = (code: number, body: unknown): void => {
        response.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (request.method !== 'POST' || !route) return send(404, { message: 'Not Found' });
      const [, repository, second] = route.pattern.exec(path)!;
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(400, { message: 'Problems parsing JSON' });
      }
      const authorised =
        route.forge === 'github' ? request.headers.authorization === `Bearer ${token}` :
        route.forge === 'gitlab' ? request.headers['private-token'] === token :
        request.headers.authorization === `token ${token}`;
      let answered = authorised ? 201 : 401;
      if (authorised && failures[route.kind] > 0) {
        failures[route.kind]--;
        answered = 502;
      }
      seen.push({
        at: Date.now(),
        forge: route.forge,
        kind: route.kind,
        repository: repository!,
        ...(route.kind === 'status' ? { sha: second } : { number: Number(second) }),
        headers: request.headers,
        body,
        answered,
      });
      send(answered, answered === 201 ? { id: seen.length, ...body } : { message: answered === 401 ? 'Bad credentials' : 'Bad gateway' });
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    /** The statuses a commit received and the forge accepted, in order. */
    statuses: (sha: string) => seen.filter((r) => r.kind === 'status' && r.sha === sha && r.answered === 201),
    comments: (number: number) => seen.filter((r) => r.kind === 'comment' && r.number === number && r.answered === 201),
    failNext(kind: 'status' | 'comment', count = 1): void {
      failures[kind] += count;
    },
    close: async (): Promise<void> => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

export type LoopbackForge = Awaited<ReturnType<typeof startLoopbackForge>>;
