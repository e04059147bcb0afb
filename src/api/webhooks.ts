import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { readSecretFile, type Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import { authenticateWebhook, parsePush, pushDecision, webhookBodyLimit } from '../source/index.js';
import { errorSchema, webhookAnswerSchema } from './schemas.js';

export const webhookPath = '/api/v1/webhooks/git';

export type WebhookOptions = {
  fleet: Pick<Fleet, 'fetchNow'>;
  repository: Config['repository'] | undefined;
  log: Logger;
};

/**
 * `POST /api/v1/webhooks/git`: no bearer token, a git host sends none; the provider's signature over the raw
 * body (or GitLab's token) is the authentication. The route lives in its own plugin scope whose only body
 * parser keeps the bytes as they arrived, so the HMAC is computed over exactly what the provider signed.
 * A valid push to the watched branch starts a fetch at once (the watcher coalesces a burst).
 */
export function registerWebhooks(app: Parameters<FastifyPluginAsyncZod>[0], options: WebhookOptions): void {
  const secretFile = options.repository?.webhookSecretFile;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyLimit }, (_request, body, done) => done(null, body));
    scope.post(
      webhookPath,
      {
        bodyLimit: webhookBodyLimit,
        schema: {
          summary: 'push events from GitHub, GitLab, Gitea/Forgejo, authenticated by their signature',
          response: { 200: webhookAnswerSchema, 202: webhookAnswerSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema, 413: errorSchema },
        },
        onRequest: async () => {
          if (!secretFile) {
            throw new FleetError('not-found', 'webhooks are off: set repository.webhookSecretFile to accept pushes at this URL');
          }
        },
      },
      async (request, reply) => {
        const secret = readSecretFile(secretFile!, 'repository.webhookSecretFile');
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const auth = authenticateWebhook(request.headers, body, secret);
        if ('error' in auth) {
          options.log.warn({ ip: request.ip, reason: auth.error }, 'webhook refused');
          throw new FleetError('unauthorized', auth.error);
        }
        let push;
        try {
          push = parsePush(auth.provider, request.headers, body);
        } catch (error) {
          throw new FleetError('bad-request', `body: ${messageOf(error)}`);
        }
        const decision = pushDecision(push, options.repository ?? {});
        const about = { provider: push.provider, event: push.event, ref: push.ref, after: push.after };
        if (decision.action === 'ping') return reply.code(200).send({ ...about, pong: true });
        if (decision.action === 'ignore') return reply.code(202).send({ ...about, ignored: true, reason: decision.reason });
        options.log.info(about, 'webhook push: fetching now');
        void options.fleet.fetchNow('webhook');
        return reply.code(202).send({ ...about, fetching: true });
      },
    );
  });
}
