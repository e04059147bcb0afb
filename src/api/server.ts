import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import { requireBearer } from './auth.js';
import { errorHandler } from './errors.js';
import {
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
  /** The bearer token every POST needs (read again after a config reload); without one, POSTs are refused. */
  token: () => string | undefined;
  /** The watched repository: the webhook route needs its branch and `webhookSecretFile`. */
  repository?: Config['repository'];
  /** Parse every response against its schema (tests): a response that drifted from the document fails. */
  checkResponses?: boolean;
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
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
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

const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema };

/** Every route, declared with its schemas; handlers only translate between HTTP and the Fleet. */
function routes(options: ApiOptions): FastifyPluginAsyncZod {
  const { fleet } = options;
  return async (app) => {
    const auth = requireBearer(options.token);
    const write = { onRequest: auth };
    const security = [{ bearer: [] }];

    app.get(openApiPath, { schema: { hide: true } }, async () => app.swagger());

    app.get('/healthz', { schema: { response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

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
        const runs = fleet.reconcile(body.targets, { trigger: 'api', mode: body.mode, force: body.force, requestedBy: 'api' });
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
      async (request) => fleet.suspend(request.params.name, { by: 'api', reason: request.body.reason }),
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
      async (request) => fleet.resume(request.params.name, { by: 'api' }),
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
        const runs = fleet.rollback(request.params.name, request.body.revision, { by: 'api', reason: request.body.reason });
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

    registerWebhooks(app, { fleet, repository: options.repository, log: options.log });
  };
}
