import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FleetError, type ErrorReason } from '../errors.js';
import type { Logger } from '../log.js';

const statusOf: Partial<Record<ErrorReason, number>> = {
  'bad-request': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
};

/**
 * The one place errors become responses: a FleetError's reason picks the status; a client error from
 * fastify (bad JSON, body too large) keeps its 4xx and message; anything else is a 500 whose details (with
 * the stack) stay in the log.
 */
export function errorHandler(log: Logger) {
  return (error: FastifyError | FleetError, request: FastifyRequest, reply: FastifyReply): void => {
    if (error instanceof FleetError) {
      const status = statusOf[error.reason];
      if (status) {
        void reply.code(status).send({ error: error.message });
        return;
      }
    }
    const code = 'statusCode' in error ? error.statusCode : undefined;
    if (code && code >= 400 && code < 500) {
      void reply.code(code).send({ error: error.message });
      return;
    }
    log.error({ err: error.message, stack: error.stack, method: request.method, url: request.url }, 'request failed');
    void reply.code(500).send({ error: 'internal error; see the fleetcd log' });
  };
}
