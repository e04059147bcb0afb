/**
 * One error base for the whole daemon. `reason` says what went wrong in domain terms (the API maps it to a
 * status code), `retryable` says whether waiting and trying again can help (a fetch timeout) or a person must
 * act first (a bad config, a missing branch): the reconciler stops retrying a stalled error until its input
 * changes, as Flux's stalling errors do.
 */
export const errorReasons = [
  'config',
  'source',
  'runner',
  'store',
  'not-found',
  'bad-request',
  'unauthorized',
  'forbidden',
  'conflict',
  'internal',
] as const;
export type ErrorReason = (typeof errorReasons)[number];

export class FleetError extends Error {
  readonly reason: ErrorReason;
  readonly retryable: boolean;

  constructor(reason: ErrorReason, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'FleetError';
    this.reason = reason;
    this.retryable = options.retryable ?? false;
  }
}

/** A config file or value that cannot be used; the message names the file, the key path and the problem. */
export class ConfigError extends FleetError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('config', message, options);
    this.name = 'ConfigError';
  }
}

/** The message of anything thrown, for logs and records; never the stack. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
