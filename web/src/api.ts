import type {
  HostPage,
  PreviewSummary,
  PreviewView,
  RunDetail,
  RunSummary,
  SourceView,
  StatusView,
  TargetDetail,
  TargetView,
} from '../../src/api/schemas.js';

/**
 * The page's one way to the daemon: the public HTTP API, typed by the route schemas' inferred types, with the
 * API token (kept in this tab's sessionStorage, never in a URL) sent as the Authorization header.
 */

export type Target = TargetView;
export type TargetPage = TargetDetail;
export type Status = StatusView;
export type { HostPage, PreviewSummary, PreviewView, RunDetail, RunSummary, SourceView };
export type TargetStatus = TargetView['status'];
export type Change = RunDetail['changes'][number];
export type Failure = RunDetail['failures'][number];
export type PreviewTarget = PreviewView['targets'][number];
export type GateResult = PreviewView['gates'][number];

/** An answer that is not a success, with a message fit to show as it is. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const tokenKey = 'fleetcd.api-token';
const tokenListeners = new Set<() => void>();

export function currentToken(): string | null {
  try {
    return sessionStorage.getItem(tokenKey);
  } catch {
    return null;
  }
}

/** Keeps the token for this tab (or forgets it with null) and tells every view, so they load again. */
export function setToken(token: string | null): void {
  declined = false;
  if (token) sessionStorage.setItem(tokenKey, token);
  else sessionStorage.removeItem(tokenKey);
  for (const listener of tokenListeners) listener();
}

export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

/** Set by the token dialog: shows it with a reason and resolves true once a token was entered. */
let tokenAsker: ((reason: string) => Promise<boolean>) | undefined;
let pendingAsk: Promise<boolean> | undefined;
/** The dialog was dismissed: reads stop asking (polls would reopen it every second) until a token is set. */
let declined = false;

export function setTokenAsker(asker: typeof tokenAsker): void {
  tokenAsker = asker;
}

/** One question at a time: the requests that need a token while the dialog is open all wait for it. */
export function askForToken(reason: string, options: { unlessDeclined?: boolean } = {}): Promise<boolean> {
  if (!tokenAsker || (options.unlessDeclined && declined)) return Promise.resolve(false);
  pendingAsk ??= tokenAsker(reason)
    .then((entered) => {
      declined = !entered;
      return entered;
    })
    .finally(() => {
      pendingAsk = undefined;
    });
  return pendingAsk;
}

async function send(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = {};
  const token = currentToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  try {
    return await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  } catch (error) {
    if (signal?.aborted) throw error;
    throw new ApiError(0, `fleetcd did not answer ${method} ${path}: ${(error as Error).message}`);
  }
}

async function failure(response: Response, method: string, path: string, hadToken: boolean): Promise<ApiError> {
  let text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') text = parsed.error;
  } catch {
    // not JSON: the text is the message
  }
  const { status } = response;
  if (status === 401) {
    return new ApiError(status, hadToken ? `the token was refused (401): ${text}` : `this needs the API token (401): ${text}`);
  }
  if (status === 403) return new ApiError(status, `the token may not do this (403): ${text}`);
  if (status === 409) return new ApiError(status, text);
  if (status === 404 && text.startsWith('no route')) {
    return new ApiError(status, `this fleetcd has no ${method} ${path.split('?')[0]} yet (404): it may be older than this page`);
  }
  return new ApiError(status, `${method} ${path} answered ${status}: ${text}`);
}

/** A GET; a 401 (reads need the token on this daemon) asks for the token and tries once more with it. */
async function getResponse(path: string, signal?: AbortSignal): Promise<Response> {
  let response = await send('GET', path, undefined, signal);
  if (response.status === 401) {
    const reason = currentToken() ? 'The token was refused (401): enter the right one.' : 'This fleetcd needs the API token to show anything.';
    if (await askForToken(reason, { unlessDeclined: true })) response = await send('GET', path, undefined, signal);
  }
  if (!response.ok) throw await failure(response, 'GET', path, currentToken() !== null);
  return response;
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await (await getResponse(path, signal)).json()) as T;
}

/** A POST with the token; without one stored, the dialog asks first and nothing is sent if it is dismissed. */
export async function post<T>(path: string, body?: unknown): Promise<T> {
  if (!currentToken() && !(await askForToken('This action needs the API token.'))) {
    throw new ApiError(0, 'no API token was entered: nothing was sent');
  }
  const response = await send('POST', path, body);
  if (!response.ok) throw await failure(response, 'POST', path, currentToken() !== null);
  return (await response.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  status: (signal?: AbortSignal) => getJson<Status>('/api/v1/status', signal),
  target: (name: string, signal?: AbortSignal) => getJson<TargetPage>(`/api/v1/targets/${enc(name)}`, signal),
  runs: (query: { target?: string; limit?: number }, signal?: AbortSignal) => {
    const params = new URLSearchParams();
    if (query.target) params.set('target', query.target);
    if (query.limit) params.set('limit', String(query.limit));
    return getJson<{ runs: RunSummary[] }>(`/api/v1/runs?${params}`, signal);
  },
  run: (id: number, signal?: AbortSignal) => getJson<RunDetail>(`/api/v1/runs/${id}`, signal),
  host: (name: string, signal?: AbortSignal) => getJson<HostPage>(`/api/v1/hosts/${enc(name)}`, signal),
  source: (signal?: AbortSignal) => getJson<SourceView>('/api/v1/source?limit=100', signal),
  reconcile: (target: string, mode: 'check' | 'apply') =>
    post<{ runs: Array<{ id: number; target: string }> }>('/api/v1/reconcile', { targets: [target], mode }),
  cancel: (id: number) => post<unknown>(`/api/v1/runs/${id}/cancel`),
  suspend: (target: string, reason: string) =>
    post<TargetPage>(`/api/v1/targets/${enc(target)}/suspend`, reason ? { reason } : {}),
  resume: (target: string) => post<TargetPage>(`/api/v1/targets/${enc(target)}/resume`, {}),
  previews: (limit: number, signal?: AbortSignal) => getJson<{ previews: PreviewSummary[] }>(`/api/v1/previews?limit=${limit}`, signal),
  preview: (id: number, signal?: AbortSignal) => getJson<PreviewView>(`/api/v1/previews/${id}`, signal),
  startPreview: (ref: string, targets: string[]) =>
    post<{ id: number }>('/api/v1/previews', targets.length > 0 ? { ref, targets } : { ref }),
  cancelPreview: (id: number) => post<unknown>(`/api/v1/previews/${id}/cancel`),
};

/**
 * Bytes of a run's log from `offset` on, and the log's size now (the next offset). A run that has not started
 * has no log yet: that reads as nothing new.
 */
export async function readLog(id: number, offset: number, signal?: AbortSignal): Promise<{ bytes: Uint8Array; size: number }> {
  const path = `/api/v1/runs/${id}/log?offset=${offset}`;
  let response: Response;
  try {
    response = await getResponse(path, signal);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return { bytes: new Uint8Array(), size: offset };
    throw error;
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const size = Number(response.headers.get('x-log-size'));
  return { bytes, size: Number.isFinite(size) && size >= offset ? size : offset + bytes.length };
}
