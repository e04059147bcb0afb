import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import type { Logger } from '../log.js';

/** One warning per this long at most: a flood of bad tokens must not become a flood of log lines. */
const warnEveryMs = 60_000;

/**
 * Requests refused with 401 (no or a wrong token, a bad webhook signature) are counted by route pattern and
 * logged — the first of each minute at warn with how many were kept quiet since, the others at debug — and
 * nothing else: the audit log leaves them out (src/api/audit.ts), so nobody without a token can grow the
 * database or the log. Root hooks: they see every route, whichever hook or handler raised the 401.
 */
export function countUnauthorized(app: FastifyInstance, log: Logger): Counter<'route'> {
  const counter = new Counter({
    name: 'fleetcd_api_unauthorized_total',
    help: 'Requests refused with 401 (missing or wrong token, bad webhook signature), by route pattern',
    labelNames: ['route'],
    registers: [],
  });
  const reasons = new WeakMap<FastifyRequest, string>();
  let lastWarnAt = Number.NEGATIVE_INFINITY;
  let quiet = 0;
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 401 && typeof payload === 'string') reasons.set(request, errorOf(payload));
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (reply.statusCode !== 401) return;
    // The pattern (`/api/v1/targets/:name/suspend`), never the raw path: a label per guessed URL would grow too.
    const route = request.routeOptions.url ?? 'unmatched';
    counter.inc({ route });
    const fields = { route, method: request.method, ip: request.ip, reason: reasons.get(request) };
    if (Date.now() - lastWarnAt < warnEveryMs) {
      quiet += 1;
      log.debug(fields, 'request refused: unauthorized');
      return;
    }
    log.warn({ ...fields, quietSinceLastWarning: quiet }, `request refused: unauthorized (at most one warning a minute; fleetcd_api_unauthorized_total counts them all)`);
    lastWarnAt = Date.now();
    quiet = 0;
  });
  return counter;
}

function errorOf(payload: string): string {
  try {
    const body = JSON.parse(payload) as { error?: unknown };
    return typeof body.error === 'string' ? body.error : '';
  } catch {
    return '';
  }
}
