import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { readSecretFile, type Config, type TokenScope } from '../config/index.js';
import { FleetError } from '../errors.js';

/** A token the API accepts: its name (what runs and the audit log record), scope, and the digest of its value. */
export type ApiToken = { name: string; scope: TokenScope; digest: Buffer };

/** Who a request came from, once its token was checked. */
export type Actor = { name: string; scope: TokenScope };

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hooks: the name and scope of the request's token. */
    actor?: Actor;
  }
}

/**
 * The tokens of a config, read from their files now (a reload reads them again): `api.tokenFile` is one write
 * token named `api`; `api.tokens` adds named tokens of scope read or write.
 */
export function loadTokens(api: Config['api']): ApiToken[] {
  const tokens: ApiToken[] = [];
  if (api.tokenFile) tokens.push({ name: 'api', scope: 'write', digest: digest(readSecretFile(api.tokenFile, 'api.tokenFile')) });
  api.tokens.forEach((token, i) => {
    tokens.push({ name: token.name, scope: token.scope, digest: digest(readSecretFile(token.file, `api.tokens.${i}.file`)) });
  });
  return tokens;
}

/**
 * An onRequest hook that lets a request through only with a token of `scope` or wider: 401 for a missing or
 * unknown token, 403 for a read token where a write one is needed. It runs before the body is parsed, so a
 * request without the token learns nothing about the body's schema. Tokens are compared in constant time.
 */
export function requireToken(tokens: () => readonly ApiToken[], scope: TokenScope) {
  return async (request: FastifyRequest): Promise<void> => {
    const known = tokens();
    if (known.length === 0) {
      throw new FleetError('unauthorized', 'this endpoint needs a token: set api.tokenFile or api.tokens in the config');
    }
    const match = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '');
    if (!match?.[1]) throw new FleetError('unauthorized', 'missing bearer token (Authorization: Bearer <token>)');
    const given = digest(match[1].trim());
    // Every token is compared, so the time taken says nothing about which one (or how much of one) matched.
    let found: ApiToken | undefined;
    for (const token of known) if (timingSafeEqual(given, token.digest) && !found) found = token;
    if (!found) throw new FleetError('unauthorized', 'wrong bearer token');
    request.actor = { name: found.name, scope: found.scope };
    if (scope === 'write' && found.scope !== 'write') {
      throw new FleetError('forbidden', `token ${found.name} may only read; this needs a write token`);
    }
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
