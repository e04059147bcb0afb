import { FleetError, type ErrorReason } from '../errors.js';

/** The reason an HTTP status means, so the CLI reports a 404 or a 409 as what it is. */
const reasonOf: Record<number, ErrorReason> = {
  400: 'bad-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
};

/** An answer of the daemon that was not a success, with its HTTP status. */
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
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new FleetError('internal', `cannot reach the fleetcd daemon at ${this.baseUrl}: ${(error as Error).cause ?? error}`, {
        retryable: true,
      });
    }
    const payload = (await response.json().catch(() => ({}))) as T & { error?: string };
    if (!response.ok) throw new ApiError(response.status, payload.error ?? `${method} ${path}: HTTP ${response.status}`);
    return payload;
  }
}
