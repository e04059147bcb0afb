import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { readSecretFile, type Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import {
  authenticateWebhook,
  forgeFamily,
  isPullRequestDelivery,
  parsePullRequest,
  parsePush,
  pullRequestDecision,
  pushDecision,
  webhookBodyLimit,
  webhookDeliveryId,
  webhookEvent,
  type WebhookProvider,
} from '../source/index.js';
import type { WebhookDeliveries } from '../store/webhook-deliveries.js';
import { errorSchema, webhookAnswerSchema } from './schemas.js';
import { scoped } from './scopes.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once a webhook delivery's signature (or token) was checked: only those are audited. */
    webhookProvider?: string;
  }
}

export const webhookPath = '/api/v1/webhooks/git';

export type WebhookOptions = {
  fleet: Pick<Fleet, 'fetchNow' | 'previews'>;
  /** The watched repository as the config in force says (a reload may change it). */
  repository: () => Config['repository'] | undefined;
  /** The previews settings in force (`previews.fromWebhooks` lets pull requests start previews). */
  previews?: () => Config['previews'];
  log: Logger;
  /** Deliveries already answered 2xx: a repeat of one is acknowledged and does nothing. Absent: no de-duplication. */
  deliveries?: WebhookDeliveries;
};

/** A push's answer, or a pull request's: the preview it started (or refused, recorded as failed). */
const answerSchema = webhookAnswerSchema.extend({
  preview: z.number().int().optional().describe("the preview a pull request's head started, or its recorded refusal"),
  refused: z.literal(true).optional(),
  duplicate: z.literal(true).optional().describe('this delivery id was answered 2xx within the last 24 hours: nothing was done'),
  message: z.string().optional(),
  delivery: z.string().optional().describe("the forge's delivery id"),
});
type Answer = z.infer<typeof answerSchema>;

/**
 * `POST /api/v1/webhooks/git`: no bearer token, a git host sends none; the provider's signature over the raw
 * body (or GitLab's token) is the authentication. The route lives in its own plugin scope whose only body
 * parser keeps the bytes as they arrived, so the HMAC is computed over exactly what the provider signed.
 * A valid push to the watched branch starts a fetch at once (the watcher coalesces a burst); a pull request's
 * new head starts a preview, with `previews.fromWebhooks`. A delivery whose id was answered 2xx within 24 hours
 * (a forge's retry, a redeliver click, a replay) is acknowledged as a duplicate and does nothing.
 */
export function registerWebhooks(app: Parameters<FastifyPluginAsyncZod>[0], options: WebhookOptions): void {
  const secretFile = (): string | undefined => options.repository()?.webhookSecretFile;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: webhookBodyLimit }, (_request, body, done) => done(null, body));
    scope.post(
      webhookPath,
      {
        // No bearer token (contract note 13), and a git host's Host header names whatever it was given.
        ...scoped('none', { anyHost: true }),
        bodyLimit: webhookBodyLimit,
        schema: {
          summary: 'push and pull-request events from GitHub, GitLab, Gitea/Forgejo, authenticated by their signature',
          response: { 200: answerSchema, 202: answerSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema, 413: errorSchema },
        },
        onRequest: async () => {
          if (!secretFile()) {
            throw new FleetError('not-found', 'webhooks are off: set repository.webhookSecretFile to accept pushes at this URL');
          }
        },
      },
      async (request, reply) => {
        const secret = readSecretFile(secretFile()!, 'repository.webhookSecretFile');
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const auth = authenticateWebhook(request.headers, body, secret);
        // Refusals are logged (rate-limited) and counted where every 401 is: src/api/refusals.ts.
        if ('error' in auth) throw new FleetError('unauthorized', auth.error);
        request.webhookProvider = auth.provider;
        const id = webhookDeliveryId(request.headers);
        const key = id === undefined ? undefined : { provider: auth.provider, id };
        if (key && options.deliveries?.seen(key)) {
          options.log.info({ provider: auth.provider, delivery: id }, 'webhook delivery already answered; nothing done');
          return reply.code(202).send({ provider: auth.provider, event: webhookEvent(request.headers), ref: null, after: null, duplicate: true, message: 'duplicate delivery', delivery: id });
        }
        const [status, answer] = handle(options, auth.provider, request.headers, body);
        // Remembered here, in the same turn of the event loop as the check above, so repeats arriving together
        // cannot both pass it; only a 2xx gets here (a thrown refusal does not), so a redelivery after one is
        // processed.
        if (key) options.deliveries?.remember({ ...key, event: webhookEvent(request.headers) });
        return reply.code(status).send(answer);
      },
    );
  });
}

/** What a delivery whose signature is good asks for: a push's fetch, or a pull request's preview. */
function handle(options: WebhookOptions, provider: WebhookProvider, headers: Headers, body: Buffer): [200 | 202, Answer] {
  if (isPullRequestDelivery(headers)) return [202, pullRequest(options, provider, headers, body)];
  let push;
  try {
    push = parsePush(provider, headers, body);
  } catch (error) {
    throw new FleetError('bad-request', `body: ${messageOf(error)}`);
  }
  const decision = pushDecision(push, options.repository() ?? {});
  const about = { provider: push.provider, event: push.event, ref: push.ref, after: push.after };
  if (decision.action === 'ping') return [200, { ...about, pong: true }];
  if (decision.action === 'ignore') return [202, { ...about, ignored: true, reason: decision.reason }];
  options.log.info(about, 'webhook push: fetching now');
  void options.fleet.fetchNow('webhook');
  return [202, { ...about, fetching: true }];
}

type Headers = Record<string, string | string[] | undefined>;

/**
 * A pull or merge request delivery: with `previews.fromWebhooks`, a new head supersedes the request's previews
 * still going and starts one of `refs/pull/<n>/head` (GitLab: `refs/merge-requests/<iid>/head`); a head in a
 * fork is refused and the refusal recorded. Other actions, and other repositories' requests, are acknowledged.
 */
function pullRequest(options: WebhookOptions, provider: WebhookProvider, headers: Headers, body: Buffer): Answer {
  if (!options.previews?.().fromWebhooks) {
    return { provider, event: webhookEvent(headers), ref: null, after: null, ignored: true, reason: 'previews.fromWebhooks is off' };
  }
  if (!forgeFamily(provider)) return { provider, event: webhookEvent(headers), ref: null, after: null, ignored: true, reason: `pull requests from ${provider} are not previewed` };
  let event;
  try {
    event = parsePullRequest(provider, headers, body);
  } catch (error) {
    throw new FleetError('bad-request', `body: ${messageOf(error)}`);
  }
  const { pullRequest } = event;
  const about = { provider, event: event.event, ref: event.ref, after: pullRequest.headSha };
  const decision = pullRequestDecision(event, { url: options.repository()?.url ?? '' });
  if (decision.action === 'ignore') return { ...about, ignored: true, reason: decision.reason };
  const { previews } = options.fleet;
  previews.supersede(pullRequest);
  const fields = { ...about, repository: pullRequest.repository, number: pullRequest.number, head: event.headRepository };
  if (decision.action === 'refuse') {
    const id = previews.refuse(event.ref, decision.reason, pullRequest);
    options.log.warn({ ...fields, preview: id, reason: decision.reason }, 'webhook pull request refused');
    return { ...about, refused: true, reason: decision.reason, preview: id };
  }
  const id = previews.start(event.ref, { pullRequest, requestedBy: 'webhook' });
  options.log.info({ ...fields, preview: id }, 'webhook pull request: previewing its head');
  return { ...about, preview: id };
}
