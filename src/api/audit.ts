import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../store/audit.js';
import { webhookPath } from './webhooks.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The answer's body, kept for the audit log (state-changing requests only). */
    auditAnswer?: string;
  }
}

/**
 * Records every state-changing request (every POST: reconcile, cancel, suspend, resume, rollback, previews,
 * webhooks) from someone who proved who they are, refused ones included (403 for a read token, 409, 400): who
 * (the token's name; `webhook`), when, what (the parsed body; never a header, so never a token), and the
 * answer (the error, or what was done). A request without a valid token or signature (401; a webhook whose
 * signature was never checked: 404 with webhooks off, 413) is not recorded: anyone could send those by the
 * thousand. src/api/refusals.ts counts them instead.
 */
export function recordStateChanges(app: FastifyInstance, audit: AuditLog): void {
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.method === 'POST' && typeof payload === 'string') request.auditAnswer = payload;
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.method !== 'POST' || reply.statusCode === 401) return;
    const webhook = request.routeOptions.url === webhookPath;
    if (webhook && !request.webhookProvider) return;
    const path = request.url.split('?')[0] ?? request.url;
    audit.record({
      actor: request.actor?.name ?? (webhook ? 'webhook' : null),
      method: request.method,
      path,
      request: webhook ? null : Buffer.isBuffer(request.body) ? null : (request.body ?? null),
      status: reply.statusCode,
      answer: summarise(request.auditAnswer),
    });
  });
}

/** The error of an answer, or its body cut short. */
function summarise(payload: string | undefined): string | null {
  if (!payload) return null;
  try {
    const body = JSON.parse(payload) as { error?: unknown };
    if (typeof body.error === 'string') return body.error;
  } catch {
    // not JSON: keep the text
  }
  return payload.length > 500 ? `${payload.slice(0, 499)}…` : payload;
}
