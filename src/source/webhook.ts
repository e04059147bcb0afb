import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Push payloads of big pushes run to a few hundred KiB; anything past this is refused (413). */
export const webhookBodyLimit = 1024 * 1024;

export type WebhookProvider = 'github' | 'gitlab' | 'gitea' | 'forgejo' | 'gogs';
type Headers = Record<string, string | string[] | undefined>;

/** One delivery, as far as the source cares: which event, which ref moved, and to what. */
export type PushEvent = { provider: WebhookProvider; event: string | null; ref: string | null; after: string | null };

/** Hex HMAC-SHA256 headers of the Gitea family, in the order they are looked for. */
const hexSignatures: Array<[string, WebhookProvider]> = [
  ['x-forgejo-signature', 'forgejo'],
  ['x-gitea-signature', 'gitea'],
  ['x-gogs-signature', 'gogs'],
];

/**
 * Checks a delivery against the shared secret, over the raw body bytes, in constant time: GitHub's
 * `X-Hub-Signature-256: sha256=<hex>` (Gitea and Forgejo send it too), the Gitea family's hex HMAC, or
 * GitLab's `X-Gitlab-Token` (the secret itself). Returns the provider, or why the delivery is refused.
 */
export function authenticateWebhook(headers: Headers, body: Buffer, secret: string): { provider: WebhookProvider } | { error: string } {
  const provider = providerOf(headers);
  const expected = createHmac('sha256', secret).update(body).digest('hex');
  const github = header(headers, 'x-hub-signature-256');
  if (github !== undefined) {
    const given = /^sha256=([0-9a-f]{64})$/i.exec(github.trim())?.[1];
    if (!given) return { error: 'X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256 of the body>' };
    return same(given.toLowerCase(), expected) ? { provider } : { error: 'X-Hub-Signature-256 does not match the body and secret' };
  }
  for (const [name, family] of hexSignatures) {
    const given = header(headers, name)?.trim();
    if (given === undefined) continue;
    return same(given.toLowerCase(), expected) ? { provider: family } : { error: `${canonical(name)} does not match the body and secret` };
  }
  const token = header(headers, 'x-gitlab-token');
  if (token !== undefined) return same(token, secret) ? { provider: 'gitlab' } : { error: 'X-Gitlab-Token does not match the secret' };
  return {
    error: 'no webhook signature: expected X-Hub-Signature-256 (GitHub), X-Gitlab-Token (GitLab) or X-Gitea-Signature (Gitea, Forgejo)',
  };
}

/**
 * Reads the event name, the ref and the new sha of a delivery. Throws an Error saying why for a body that is
 * not a JSON object.
 */
export function parsePush(provider: WebhookProvider, headers: Headers, body: Buffer): PushEvent {
  const fields = webhookPayload(headers, body);
  const after = fields.after ?? fields.checkout_sha;
  return {
    provider,
    event: webhookEvent(headers),
    ref: typeof fields.ref === 'string' ? fields.ref : null,
    after: typeof after === 'string' ? after : null,
  };
}

/** The event a delivery announces (`push`, `pull_request`, `Merge Request Hook`, …), from its provider's header. */
export function webhookEvent(headers: Headers): string | null {
  return (
    header(headers, 'x-forgejo-event') ??
    header(headers, 'x-gitea-event') ??
    header(headers, 'x-gogs-event') ??
    header(headers, 'x-gitlab-event') ??
    header(headers, 'x-github-event') ??
    null
  );
}

/** Delivery id headers; the first present is the id (Gitea and Forgejo send GitHub's too, with the same id). */
const deliveryHeaders = ['x-github-delivery', 'x-forgejo-delivery', 'x-gitea-delivery', 'x-gogs-delivery', 'x-gitlab-event-uuid'];
/** Forges send UUIDs; anything much longer is not an id worth remembering. */
const maxDeliveryIdLength = 128;

/**
 * The id a forge gives a delivery, the same when it retries it or a person clicks "redeliver" (GitHub's
 * `X-GitHub-Delivery`, Gitea's `X-Gitea-Delivery`, GitLab's `X-Gitlab-Event-UUID`); undefined when there is none
 * or it is too long to be one. The header is not covered by the signature.
 */
export function webhookDeliveryId(headers: Headers): string | undefined {
  for (const name of deliveryHeaders) {
    const id = header(headers, name)?.trim();
    if (id) return id.length <= maxDeliveryIdLength ? id : undefined;
  }
  return undefined;
}

/**
 * A delivery's body as a JSON object. GitHub may send the JSON form-encoded (`payload=...`). Throws an Error
 * saying why for a body that is not a JSON object.
 */
export function webhookPayload(headers: Headers, body: Buffer): Record<string, unknown> {
  const text = /application\/x-www-form-urlencoded/i.test(header(headers, 'content-type') ?? '')
    ? (new URLSearchParams(body.toString('utf8')).get('payload') ?? '')
    : body.toString('utf8');
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new Error('the body is not JSON (nor a form with a JSON payload field)');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new Error('the body must be a JSON object');
  return payload as Record<string, unknown>;
}

export type PushDecision = { action: 'fetch' } | { action: 'ping' } | { action: 'ignore'; reason: string };

/** A push to the watched branch fetches at once; anything else is acknowledged and left alone. */
export function pushDecision(push: PushEvent, watched: { branch?: string; revision?: string }): PushDecision {
  const event = push.event?.toLowerCase() ?? null;
  if (event === 'ping') return { action: 'ping' };
  if (event !== null && event !== 'push' && event !== 'push hook') return { action: 'ignore', reason: `event ${push.event} is not a push` };
  if (watched.revision !== undefined) {
    return { action: 'ignore', reason: `repository.revision pins ${watched.revision}; pushes do not move it` };
  }
  const wanted = `refs/heads/${watched.branch ?? 'main'}`;
  if (push.ref !== wanted) return { action: 'ignore', reason: `push to ${push.ref ?? 'no ref'}; watching ${wanted}` };
  return { action: 'fetch' };
}

function providerOf(headers: Headers): WebhookProvider {
  if (header(headers, 'x-forgejo-event') !== undefined) return 'forgejo';
  if (header(headers, 'x-gitea-event') !== undefined) return 'gitea';
  if (header(headers, 'x-gogs-event') !== undefined) return 'gogs';
  if (header(headers, 'x-gitlab-event') !== undefined) return 'gitlab';
  return 'github';
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Constant-time equality of two strings of any length (their SHA-256 digests are compared). */
function same(a: string, b: string): boolean {
  const digest = (value: string): Buffer => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

function canonical(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_all, dash: string, letter: string) => dash + letter.toUpperCase());
}
