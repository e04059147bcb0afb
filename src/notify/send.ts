import { messageOf } from '../errors.js';

/** How one POST to a receiver ended. `retryable` says whether trying again later can help. */
export type AttemptOutcome =
  | { ok: true; httpStatus: number }
  | { ok: false; httpStatus: number | null; error: string; retryable: boolean };

export type PostRequest = {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Aborted when the notifier stops: the attempt ends at once. */
  signal: AbortSignal;
  /** Strings that must not reach a recorded error (the secret header's value, the URL's path). */
  redact: readonly string[];
};

/** Most of a receiver's answer kept in an error: enough for Slack's `invalid_payload`, not a whole page. */
const answerLimit = 200;

/**
 * One POST, bounded by `timeoutMs` from connect to the end of the answer. Redirects are not followed: a
 * redirect would carry the secret header to wherever it points. A 5xx, 408 or 429 answer and a network
 * error or timeout are worth retrying; any other answer outside 2xx needs a person.
 */
export async function postOnce(request: PostRequest): Promise<AttemptOutcome> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = AbortSignal.any([timeout, request.signal]);
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'fleetcd', ...request.headers },
      body: request.body,
      redirect: 'manual',
      signal,
    });
    const answer = await readStart(response);
    if (response.ok) return { ok: true, httpStatus: response.status };
    const status = response.status;
    const said = answer ? `: ${scrub(answer, request.redact)}` : '';
    return { ok: false, httpStatus: status, error: `HTTP ${status}${said}`, retryable: status >= 500 || status === 408 || status === 429 };
  } catch (error) {
    if (request.signal.aborted) return { ok: false, httpStatus: null, error: 'abandoned: fleetcd stopped', retryable: false };
    if (timeout.aborted) return { ok: false, httpStatus: null, error: `no answer within ${request.timeoutMs / 1000}s`, retryable: true };
    return { ok: false, httpStatus: null, error: scrub(networkError(error), request.redact), retryable: true };
  }
}

/** The first bytes of an answer as one line; the rest is not read (the connection is released). */
async function readStart(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    chunks.push(read.value);
    size += read.value.byteLength;
    if (size >= answerLimit) break;
  }
  await reader.cancel().catch(() => undefined);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\s+/g, ' ').trim();
  return text.length > answerLimit ? `${text.slice(0, answerLimit)}…` : text;
}

/** fetch says only "fetch failed"; the cause says why (`connect ECONNREFUSED 127.0.0.1:9`). */
function networkError(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return cause instanceof Error ? cause.message : messageOf(error);
}

function scrub(text: string, secrets: readonly string[]): string {
  return secrets.filter((s) => s.length > 0).reduce((out, secret) => out.replaceAll(secret, '[redacted]'), text);
}
