import swagger from '@fastify/swagger';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import { requireToken, type ApiToken } from './auth.js';
import { recordStateChanges } from './audit.js';
import { auditEntrySchema, type AuditLog } from '../store/audit.js';
import { FleetError } from '../errors.js';
import { errorHandler } from './errors.js';
import { notificationRoutes, type NotificationLog } from './notifications.js';
import { metricsRoute } from './metrics.js';
import {
  auditQuery,
  cancelSchema,
  errorSchema,
  eventPageSchema,
  eventsQuery,
  hostPageSchema,
  idParams,
  logQuery,
  nameParams,
  queuedRunsSchema,
  reconcileBodySchema,
  rollbackBodySchema,
  runDetailSchema,
  runListSchema,
  runsQuery,
  sourceQuery,
  sourceViewSchema,
  statusViewSchema,
  suspendBodySchema,
  targetDetailSchema,
} from './schemas.js';
import { serializerCompiler, validatorCompiler } from './validation.js';
import { registerPage } from './static.js';
import { registerWebhooks } from './webhooks.js';

export type ApiOptions = {
  fleet: Fleet;
  log: Logger;
  /** The tokens the API accepts now (read again after a config reload); without one, POSTs are refused. */
  tokens: () => readonly ApiToken[];
  /** With `api.requireReadToken`, every GET of the API needs a read or write token. */
  requireReadToken?: () => boolean;
  /** Where state-changing requests are recorded (GET /api/v1/audit shows them). */
  audit?: AuditLog;
  /** Where notification deliveries are read (GET /api/v1/notifications); absent, that route answers 404. */
  notifications?: NotificationLog;
  /** The watched repository: the webhook route needs its branch and `webhookSecretFile`. */
  repository?: Config['repository'];
  /** Parse every response against its schema (tests): a response that drifted from the document fails. */
  checkResponses?: boolean;
  /** Serve HTTPS with this certificate and key (api.tls). */
  tls?: { certFile: string; keyFile: string };
};

export const openApiPath = '/api/v1/openapi.json';

/** A route as declared, for the test that holds the OpenAPI document to the code. */
export type DeclaredRoute = { method: string; url: string; responses: string[]; hidden: boolean };

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route the API declared (HEAD routes fastify adds for GETs left out). */
    declaredRoutes: DeclaredRoute[];
  }
}

/** Builds the HTTP API (not listening yet), so tests can drive it with inject() or a real port. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const https = options.tls ? { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) } : null;
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, https }) as unknown as FastifyInstance;
  logRequests(app, options.log);
  const declared: DeclaredRoute[] = [];
  app.decorate('declaredRoutes', declared);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const schema = route.schema as { response?: Record<string, unknown>; hide?: boolean } | undefined;
      declared.push({ method, url: route.url, responses: Object.keys(schema?.response ?? {}), hidden: schema?.hide === true });
    }
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler(options.checkResponses ?? false));
  app.setErrorHandler(errorHandler(options.log));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  void app.register(swagger, {
    openapi: {
      info: { title: 'fleetcd', version: '1', description: 'GitOps for Ansible fleets: status, runs, drift, reconcile.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  void app.register(routes(options));
  void app.register(registerPage);
  return app;
}

/** An access log line per request at debug: method, path, status, time and the token's name, never the token. */
function logRequests(app: FastifyInstance, log: Logger): void {
  app.addHook('onResponse', async (request, reply) => {
    log.debug(
      { method: request.method, path: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime), actor: request.actor?.name },
      'request',
    );
  });
}

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

/** The name of the token a write request came with (the auth hook ran first). */
function actorOf(request: FastifyRequest): string {
  return request.actor?.name ?? 'api';
}

/** Every route, declared with its schemas; handlers only translate between HTTP and the Fleet. */
function routes(options: ApiOptions): FastifyPluginAsyncZod {
  const { fleet } = options;
  return async (app) => {
    const write = { onRequest: requireToken(options.tokens, 'write') };
    const read = requireToken(options.tokens, 'read');
    // GETs of the API need a token only when the config says so; /healthz, /metrics and the page never do.
    app.addHook('onRequest', async (request) => {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (options.requireReadToken?.() && request.url.startsWith('/api/v1/')) await read(request);
    });
    if (options.audit) recordStateChanges(app, options.audit);
    const security = [{ bearer: [] }];

    app.get(openApiPath, { schema: { hide: true } }, async () => app.swagger());

    app.get('/healthz', { schema: { response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

    void app.register(metricsRoute(fleet));

    app.get('/api/v1/status', { schema: { summary: 'the fleet: revision, source, every target', response: { 200: statusViewSchema } } }, async () =>
      fleet.status(),
    );

    app.get(
      '/api/v1/source',
      { schema: { summary: 'the watched repository and the tips seen', querystring: sourceQuery, response: { 200: sourceViewSchema, ...errors } } },
      async (request) => fleet.sourceView(request.query.limit),
    );

    app.get(
      '/api/v1/targets/:name',
      { schema: { summary: 'one target with its hosts', params: nameParams, response: { 200: targetDetailSchema, ...errors } } },
      async (request) => fleet.target(request.params.name),
    );

    app.get(
      '/api/v1/audit',
      {
        schema: {
          summary: 'state-changing requests, newest first: who, when, what, and the answer',
          querystring: auditQuery,
          response: { 200: z.object({ entries: z.array(auditEntrySchema) }), ...errors },
        },
      },
      async (request) => {
        if (!options.audit) throw new FleetError('not-found', 'this fleetcd keeps no audit log');
        return { entries: options.audit.list(request.query.limit, request.query.before) };
      },
    );

    app.get(
      '/api/v1/hosts/:name',
      { schema: { summary: 'one host across targets: status, newest changes and failures, runs', params: nameParams, response: { 200: hostPageSchema, ...errors } } },
      async (request) => fleet.host(request.params.name),
    );

    app.get(
      '/api/v1/runs',
      { schema: { summary: 'runs, newest first', querystring: runsQuery, response: { 200: runListSchema, ...errors } } },
      async (request) => {
        const { target, limit, before } = request.query;
        return { runs: fleet.runs({ target, limit, beforeId: before }) };
      },
    );

    app.get(
      '/api/v1/runs/:id',
      { schema: { summary: 'one run: hosts, changes with diffs, failures', params: idParams, response: { 200: runDetailSchema, ...errors } } },
      async (request) => fleet.run(request.params.id),
    );

    app.get(
      '/api/v1/runs/:id/events',
      {
        schema: {
          summary: 'every host × task result of a run, paged',
          params: idParams,
          querystring: eventsQuery,
          response: { 200: eventPageSchema, ...errors },
        },
      },
      async (request) => fleet.events(request.params.id, request.query.after ?? 0, request.query.limit),
    );

    app.get(
      '/api/v1/runs/:id/log',
      {
        schema: {
          summary: "Ansible's plain output of a run; `offset` skips bytes already read (follow a running run)",
          params: idParams,
          querystring: logQuery,
          response: { 200: z.string().describe('text/plain'), ...errors },
        },
      },
      // The log is streamed as it is on disk; the schema documents it as the text it is.
      async (request, reply) => {
        const log = fleet.runLog(request.params.id, request.query.offset);
        return reply.type('text/plain; charset=utf-8').header('x-log-size', String(log.size)).send(log.stream as never);
      },
    );

    app.post(
      '/api/v1/reconcile',
      {
        ...write,
        schema: {
          summary: 'reconcile targets now',
          security,
          body: reconcileBodySchema,
          response: { 202: queuedRunsSchema, ...errors },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const runs = fleet.reconcile(body.targets, { trigger: 'api', mode: body.mode, force: body.force, requestedBy: actorOf(request) });
        return reply.code(202).send({ runs });
      },
    );

    app.post(
      '/api/v1/targets/:name/suspend',
      {
        ...write,
        schema: {
          summary: 'stop automatic runs of a target (idempotent; kept across restarts)',
          security,
          params: nameParams,
          body: suspendBodySchema,
          response: { 200: targetDetailSchema, ...errors },
        },
      },
      async (request) => fleet.suspend(request.params.name, { by: actorOf(request), reason: request.body.reason }),
    );

    app.post(
      '/api/v1/targets/:name/resume',
      {
        ...write,
        schema: {
          summary: 'end a suspension and a hold, and reconcile at once (idempotent)',
          security,
          params: nameParams,
          body: suspendBodySchema,
          response: { 200: targetDetailSchema, ...errors },
        },
      },
      async (request) => fleet.resume(request.params.name, { by: actorOf(request) }),
    );

    app.post(
      '/api/v1/targets/:name/rollback',
      {
        ...write,
        schema: {
          summary: 'apply an accepted revision to every host and hold the target there',
          security,
          params: nameParams,
          body: rollbackBodySchema,
          response: { 202: queuedRunsSchema, ...errors },
        },
      },
      async (request, reply) => {
        const runs = fleet.rollback(request.params.name, request.body.revision, { by: actorOf(request), reason: request.body.reason });
        return reply.code(202).send({ runs });
      },
    );

    app.post(
      '/api/v1/runs/:id/cancel',
      { ...write, schema: { summary: 'stop a queued or running run', security, params: idParams, response: { 202: cancelSchema, ...errors } } },
      async (request, reply) => {
        fleet.cancel(request.params.id);
        return reply.code(202).send({ id: request.params.id, cancelling: true as const });
      },
    );

    await app.register(notificationRoutes(options.notifications));
    registerWebhooks(app, { fleet, repository: options.repository, log: options.log });
  };
}
