/**
 * Generated hostile requests over every route the daemon declares (read from its OpenAPI document), by
 * category: wrong methods, unknown paths, malformed, oversized and deeply nested bodies, wrong types, huge
 * headers, bad tokens, bad webhook signatures and protocol garbage. Every request is one the daemon must
 * refuse (or, for reads, answer): none of them may be valid enough to queue a run, suspend a target or start
 * a preview, so "nothing was queued" can be checked afterwards.
 */
import { createHmac } from 'node:crypto';
import { requestBytes, type HeaderList } from './raw-http.js';

export type Probe = { category: Category; label: string; bytes: Buffer };

export const categories = [
  'reads',
  'wrong-method',
  'unknown-path',
  'malformed-body',
  'oversized-body',
  'nested-body',
  'wrong-types',
  'huge-headers',
  'bad-token',
  'bad-webhook-signature',
  'protocol-garbage',
] as const;
export type Category = (typeof categories)[number];

/** What the generator knows of the daemon under test. */
export type ProbeContext = {
  token: string;
  readToken: string;
  webhookSecret: string;
  /** Routes as the OpenAPI document names them (`/api/v1/runs/{id}`), with their methods. */
  routes: ReadonlyArray<{ method: string; path: string }>;
  /** A run that has finished: cancelling it is a conflict. */
  finishedRunId: number;
};

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

const unknownNames = ['nope', '..', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'WEB', 'web%00', `x${'y'.repeat(300)}`, '%C0%AF', '💥', 'web;rm%20-rf'];
const badIds = ['0', '-1', 'abc', '1e3', '99999999999999999999', '1.5', '%20', '0x10', '9007199254740993'];
const badQueries = ['?limit=0', '?limit=501', '?limit=abc', '?limit=-1', '?limit[]=1', '?before=0', '?before=x', '?after=-1', '?offset=-5', '?offset=1e99', '?limit=1&limit=2', '?target=%FF', `?target=${'a'.repeat(2000)}`, '?%', '?=&&=='];

/** A path of a route with its parameters filled in, well or badly. */
function fill(rng: Rng, path: string, ctx: ProbeContext, unknownOnly: boolean): string {
  return path
    .replace('{name}', () => (unknownOnly || rng() < 0.5 ? pick(rng, unknownNames) : pick(rng, ['web', 'db', 'h1'])))
    .replace('{id}', () => (unknownOnly || rng() < 0.5 ? pick(rng, [...badIds, '424242']) : String(ctx.finishedRunId)));
}

/** Bodies no route's schema accepts: broken JSON, wrong top-level types, unknown keys. */
const brokenBodies = ['{', '{"targets": ["web"]', 'nul', 'tru', '{"a":1}}', '\u0000\u0001', "{'targets': ['web']}", '{"targets": [web]}', '[1,,2]', '{"a":NaN}', '\uFEFF{"x"', ''];
const invalidObjects = ['[]', '"web"', '123', 'true', '{"zzz": 1}', '{"__proto__": {"polluted": 1}}', '{"constructor": {"prototype": {"polluted": 1}}}', '[{"targets":["web"]}]'];

/** Bodies of the right shape that still name nothing real, per route: each is refused with 404 or 400. */
const wrongTypeBodies: Record<string, readonly string[]> = {
  reconcile: [
    '{"targets": "web"}',
    '{"targets": [1, 2]}',
    '{"targets": [""]}',
    '{"targets": [null]}',
    '{"targets": ["web", "nope"]}',
    '{"targets": ["../web"]}',
    '{"targets": ["web"], "mode": "destroy"}',
    '{"targets": ["web"], "mode": ["check"]}',
    '{"targets": ["web"], "force": "yes"}',
    '{"targets": ["web"], "force": 1}',
    '{"targets": ["web"], "extra": true}',
    '{"targets": {"0": "web"}}',
    `{"targets": [${Array.from({ length: 3000 }, (_, i) => `"t${i}"`).join(',')}]}`,
  ],
  suspend: ['{"reason": 5}', '{"reason": ["a"]}', `{"reason": "${'r'.repeat(600)}"}`, '{"reason": null, "x": 1}', '{"until": "never"}'],
  rollback: ['{"revision": 123}', '{"revision": "zz"}', '{"revision": "ABCDEF1"}', '{"revision": "../../HEAD"}', '{"revision": "abcdef1", "reason": 7}', '{}', '{"revision": null}'],
  previews: ['{"ref": 5}', '{"ref": ""}', `{"ref": "${'r'.repeat(300)}"}`, '{"ref": "main", "targets": ["nope"]}', '{"ref": "main", "targets": "web"}', '{"targets": ["web"]}', '{"ref": "main", "x": 1}'],
};

function routeKind(path: string): keyof typeof wrongTypeBodies | 'cancel' | 'webhook' | 'other' {
  if (path.endsWith('/reconcile')) return 'reconcile';
  if (path.endsWith('/suspend') || path.endsWith('/resume')) return 'suspend';
  if (path.endsWith('/rollback')) return 'rollback';
  if (path === '/api/v1/previews') return 'previews';
  if (path.endsWith('/cancel')) return 'cancel';
  if (path.endsWith('/webhooks/git')) return 'webhook';
  return 'other';
}

const json = (extra: HeaderList = []): HeaderList => [['Content-Type', 'application/json'], ...extra];

export function generateProbes(count: number, ctx: ProbeContext, rng: Rng): Probe[] {
  const gets = ctx.routes.filter((r) => r.method === 'GET');
  const posts = ctx.routes.filter((r) => r.method === 'POST' && routeKind(r.path) !== 'webhook');
  const auth: HeaderList = [['Authorization', `Bearer ${ctx.token}`]];
  /** A POST route with a valid token, its parameters naming nothing real (so no body can make it act). */
  const refusedPost = (): string => fill(rng, pick(rng, posts).path, ctx, true);
  const make: Record<Category, () => [string, Buffer]> = {
    reads: () => {
      const path = fill(rng, pick(rng, gets).path, ctx, false) + (rng() < 0.4 ? pick(rng, badQueries) : '');
      return [`GET ${path}`, requestBytes(rng() < 0.2 ? 'HEAD' : 'GET', path, rng() < 0.3 ? auth : [])];
    },
    'wrong-method': () => {
      const route = pick(rng, ctx.routes);
      const declared = new Set(ctx.routes.filter((r) => r.path === route.path).map((r) => r.method));
      const method = pick(rng, ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND', 'TRACE', 'GET', 'POST'].filter((m) => !declared.has(m)));
      const path = fill(rng, route.path, ctx, true);
      return [`${method} ${path}`, requestBytes(method, path, json(auth), '{"targets":["web"]}')];
    },
    'unknown-path': () => {
      const path = pick(rng, [
        '/api/v2/status',
        '/api/v1/',
        '/api/v1/status/extra',
        '//api//v1//status',
        '/api/v1/runs/1/../../status',
        '/../../../../etc/passwd',
        '/%',
        '/%zz',
        '/api/v1/targets/%E0%A4%A',
        `/api/v1/${'a/'.repeat(2000)}`,
        '/index.html/../../fleetcd.yaml',
        '/app.js%00.html',
        '/api/v1/reconcile?targets=web',
        `/${Math.floor(rng() * 1e9).toString(36)}`,
      ]);
      return [`GET ${path}`, requestBytes(rng() < 0.5 ? 'GET' : 'POST', path, json(auth), '{"targets":["nope"]}')];
    },
    'malformed-body': () => {
      const path = refusedPost();
      const body = pick(rng, [...brokenBodies, ...invalidObjects]);
      const type = pick(rng, ['application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json, text/plain', '']);
      return [`POST ${path} ${type} ${JSON.stringify(body.slice(0, 40))}`, requestBytes('POST', path, [...auth, ...(type ? [['Content-Type', type] as const] : [])], body)];
    },
    'oversized-body': () => {
      const path = refusedPost();
      const size = pick(rng, [64 * 1024 + 1, 100 * 1024, 1024 * 1024, 2 * 1024 * 1024]);
      const body = `{"targets":["nope"],"reason":"${'x'.repeat(size)}"}`;
      return [`POST ${path} ${body.length} bytes`, requestBytes('POST', path, json(auth), body)];
    },
    'nested-body': () => {
      const path = refusedPost();
      const depth = pick(rng, [1000, 5000, 10_000, 20_000]);
      const body = pick(rng, [
        `${'['.repeat(depth)}${']'.repeat(depth)}`,
        `{"targets":${'['.repeat(depth)}${']'.repeat(depth)}}`,
        `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
        `{"reason":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
      ]);
      return [`POST ${path} nesting ${depth}`, requestBytes('POST', path, json(auth), body)];
    },
    'wrong-types': () => {
      const route = pick(rng, posts);
      const kind = routeKind(route.path);
      const path = fill(rng, route.path, ctx, kind !== 'reconcile' && kind !== 'previews');
      const bodies = kind in wrongTypeBodies ? wrongTypeBodies[kind as keyof typeof wrongTypeBodies]! : invalidObjects;
      const body = pick(rng, bodies);
      return [`POST ${path} ${body.slice(0, 50)}`, requestBytes('POST', path, json(auth), body)];
    },
    'huge-headers': () => {
      const path = fill(rng, pick(rng, ctx.routes).path, ctx, true);
      const headers: HeaderList = pick(rng, [
        [['X-Big', 'h'.repeat(20_000)]],
        [['Cookie', 'c'.repeat(15_000)]],
        [['Authorization', `Bearer ${'t'.repeat(12_000)}`]],
        Array.from({ length: 3000 }, (_, i) => [`X-H${i}`, 'v'] as const),
        [['Content-Type', `application/json; ${'p=1; '.repeat(2000)}`]],
      ]);
      return [`GET ${path} with ${headers.length} headers`, requestBytes(rng() < 0.5 ? 'GET' : 'POST', path, headers, '{}')];
    },
    'bad-token': () => {
      const route = pick(rng, posts);
      const path = fill(rng, route.path, ctx, false);
      const authorization = pick(rng, [
        undefined,
        'Bearer',
        'Bearer ',
        'Bearer wrong-token',
        `Bearer ${ctx.token}x`,
        `Bearer x${ctx.token}`,
        `Basic ${Buffer.from(`api:${ctx.token}`).toString('base64')}`,
        `Token ${ctx.token}`,
        `Bearer ${ctx.readToken}`,
        `Bearer ${'z'.repeat(4000)}`,
        `Bearer ${ctx.token.slice(0, -1)}`,
        'Bearer \u00ff\u00fe',
      ]);
      const body = pick(rng, ['{"targets":["web"]}', '{"targets":["web"],"mode":"apply","force":true}', '{"reason":"x"}', '{"revision":"abcdef1"}', '{"ref":"main"}']);
      const headers = json(authorization === undefined ? [] : [['Authorization', authorization]]);
      return [`POST ${path} auth ${JSON.stringify(authorization?.slice(0, 30) ?? null)}`, requestBytes('POST', path, headers, body)];
    },
    'bad-webhook-signature': () => {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: 'f'.repeat(40), pad: Math.floor(rng() * 1e9) });
      const right = createHmac('sha256', ctx.webhookSecret).update(body).digest('hex');
      const wrong = createHmac('sha256', 'not-the-secret').update(body).digest('hex');
      const headers: HeaderList = pick(rng, [
        [['X-GitHub-Event', 'push']],
        [['X-GitHub-Event', 'push'], ['X-Hub-Signature-256', `sha256=${wrong}`]],
        [['X-GitHub-Event', 'push'], ['X-Hub-Signature-256', 'sha256=zz']],
        [['X-GitHub-Event', 'push'], ['X-Hub-Signature-256', right]],
        [['X-GitHub-Event', 'push'], ['X-Hub-Signature-256', `sha1=${right}`]],
        [['X-GitHub-Event', 'push'], ['X-Hub-Signature-256', `sha256=${right.slice(0, 63)}`]],
        [['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', 'wrong']],
        [['X-Gitlab-Event', 'Push Hook'], ['X-Gitlab-Token', '']],
        [['X-Gitea-Event', 'push'], ['X-Gitea-Signature', wrong]],
        [['X-Gitea-Event', 'push'], ['X-Hub-Signature-256', `sha256=${wrong}`], ['X-Gitea-Signature', right]],
      ]);
      // A signature over other bytes than the ones sent.
      const sent = rng() < 0.2 ? `${body} ` : body;
      return [`POST /api/v1/webhooks/git ${headers.map(([n]) => n).join(',')}`, requestBytes('POST', '/api/v1/webhooks/git', json(headers), sent)];
    },
    'protocol-garbage': () => {
      const raw = pick(rng, [
        'GARBAGE\r\n\r\n',
        'GET /healthz\r\n\r\n',
        'GET /healthz HTTP/1.1\r\n\r\n',
        'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
        `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
        'POST /api/v1/reconcile HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /api/v1/reconcile HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n',
        'POST /api/v1/reconcile HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
        'POST /api/v1/reconcile HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
        'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad\u0000Header: 1\r\n\r\n',
        'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Bad: a\rb\r\n\r\n',
        'GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n',
        '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003',
        'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
        'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n',
      ]);
      return [`raw ${JSON.stringify(raw.slice(0, 40))}`, Buffer.from(raw, 'latin1')];
    },
  };
  return Array.from({ length: count }, (_, i) => {
    const category = categories[i % categories.length]!;
    const [label, bytes] = make[category]();
    return { category, label, bytes };
  });
}
