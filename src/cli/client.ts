import { FleetError, messageOf, type ErrorReason } from '../errors.js';

/** The reason an HTTP status means, so the CLI reports a 404 or a 409 as what it is. */
const reasonOf: Record<number, ErrorReason> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
};

/** An answer of the daemon that was not a success, with its HTTP status; the message is the daemon's `error`. */
export class ApiError extends FleetError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(reasonOf[status] ?? 'internal', message);
    this.name = 'ApiError';
  }
}

/** A small client of the daemon's API for the CLI verbs that talk to a running daemon. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
    /** Added to a 401's message: where the token came from, or how to give one. */
    private readonly unauthorizedHint?: string,
  ) {}

  async get<T>(path: string): Promise<T> {
    return (await this.request('GET', path)).json() as Promise<T>;
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return (await this.request('POST', path, body)).json() as Promise<T>;
  }

  /** A text answer (a run's log) with the `x-log-size` header, the size of the whole log so far. */
  async text(path: string): Promise<{ text: string; size: number | undefined }> {
    const response = await this.request('GET', path);
    const size = response.headers.get('x-log-size');
    return { text: await response.text(), size: size === null ? undefined : Number(size) };
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      const cause = (error as Error).cause;
      throw new FleetError('internal', `cannot reach the fleetcd daemon at ${this.baseUrl}: ${messageOf(cause ?? error)}`, { retryable: true });
    }
    if (response.ok) return response;
    const payload = (await response.json().catch(() => ({}))) as { error?: string };
    const message = payload.error ?? `${method} ${path}: HTTP ${response.status}`;
    throw new ApiError(response.status, response.status === 401 && this.unauthorizedHint ? `${message}; ${this.unauthorizedHint}` : message);
  }
}
