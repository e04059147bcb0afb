import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { FleetError } from '../errors.js';

/**
 * Checks `Authorization: Bearer <token>` in constant time. Runs in onRequest, before the body is parsed,
 * so a request without the token learns nothing about the body's schema.
 */
export function requireBearer(token: () => string | undefined) {
  return async (request: FastifyRequest): Promise<void> => {
    const secret = token();
    const expected = secret ? digest(secret) : undefined;
    if (!expected) throw new FleetError('unauthorized', 'this endpoint needs api.tokenFile to be configured');
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1]) throw new FleetError('unauthorized', 'missing bearer token (Authorization: Bearer <token>)');
    if (!timingSafeEqual(digest(match[1].trim()), expected)) throw new FleetError('unauthorized', 'wrong bearer token');
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
