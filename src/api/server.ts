import swagger from '@fastify/swagger';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Metric } from 'prom-client';
import { z } from 'zod';
import { apiLimitDefaults, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import type { ApiToken } from './auth.js';
import { recordStateChanges } from './audit.js';
import { type AuditLog } from '../store/audit.js';
import type { WebhookDeliveries } from '../store/webhook-deliveries.js';
import { errorHandler } from './errors.js';
import { parseJsonBodies } from './json-body.js';
import { notificationRoutes, type NotificationLog } from './notifications.js';
import { metricsRoute } from './metrics.js';
import { countUnauthorized } from './refusals.js';
import { readRoutes } from './routes/read.js';
import { previewRoutes } from './routes/previews.js';
import { writeRoutes } from './routes/write.js';
import { scoped, enforceScopes } from './scopes.js';
import type { AllowedHosts } from './hosts.js';
import { serializerCompiler, validatorCompiler } from './validation.js';
import { registerPage } from './static.js';
import { registerWebhooks } from './webhooks.js';

export type ApiOptions = {
  fleet: Fleet;
  log: Logger;
  /** The tokens the API accepts now (read again after a config reload); without one, POSTs are refused. */
  tokens: () => readonly ApiToken[];
  /** With `api.requireReadToken`, every route of scope `read` needs a read or write token. */
  requireReadToken?: () => boolean;
  /** The Host names the API answers to (others get 421, against DNS rebinding); absent, any. */
  allowedHosts?: () => AllowedHosts;
  /** Where state-changing requests are recorded (GET /api/v1/audit shows them). */
  audit?: AuditLog;
  /** Where notification deliveries are read (GET /api/v1/notifications); absent, that route answers 404. */
  notifications?: NotificationLog;
  /** The watched repository as the config in force says: the webhook route needs its branch and `webhookSecretFile`. */
  repository?: () => Config['repository'];
  /** The previews settings in force: the webhook route starts previews of pull requests with `fromWebhooks`. */
  previews?: () => Config['previews'];
  /** Parse every response against its schema (tests): a response that drifted from the document fails. */
  checkResponses?: boolean;
  /** Serve HTTPS with this certificate and key (api.tls). */
  tls?: { certFile: string; keyFile: string };
  /** Webhook deliveries already answered 2xx, so a repeat does nothing (kept in the database for 24 h). */
  deliveries?: WebhookDeliveries;
  /** api.timeouts and api.maxConnections (their defaults when absent). Taken at start: a reload does not change them. */
  limits?: ApiLimits;
};

export type ApiLimits = Pick<Config['api'], 'timeouts' | 'maxConnections'>;

/**
 * How often Node looks for requests past their headers or request timeout (its default is 30 s, which would let
 * a slow client keep its socket 30 s past the timeout): a scan of at most `maxConnections` sockets a second.
 */
const connectionsCheckingIntervalMs = 1000;

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
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, ...serverOptions(options) }) as unknown as FastifyInstance;
  app.server.maxConnections = (options.limits ?? apiLimitDefaults).maxConnections;
  logRequests(app, options.log);
  const unauthorized = countUnauthorized(app, options.log);
  enforceScopes(app, { tokens: options.tokens, requireReadToken: options.requireReadToken ?? (() => false), allowedHosts: options.allowedHosts });
  parseJsonBodies(app);
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
  void app.register(routes(options, unauthorized));
  void app.register(registerPage);
  return app;
}

/**
 * The server's bounds on slow clients: headers within `headers`, the whole request within `request` (Node
 * answers 408 and closes), an idle kept-alive socket closed after `keepAlive`, and a socket silent for `request`
 * (a client that stopped reading its answer) closed too. Node's own checks go in the server's options, which
 * fastify passes to http(s).createServer.
 */
function serverOptions(options: ApiOptions) {
  const { headersMs, requestMs, keepAliveMs } = (options.limits ?? apiLimitDefaults).timeouts;
  const node = { headersTimeout: headersMs, requestTimeout: requestMs, connectionsCheckingInterval: connectionsCheckingIntervalMs };
  const timeouts = { requestTimeout: requestMs, keepAliveTimeout: keepAliveMs, connectionTimeout: requestMs };
  if (!options.tls) return { ...timeouts, http: node };
  return { ...timeouts, https: { ...node, cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) } };
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

/** Every route, declared with its schemas; handlers only translate between HTTP and the Fleet. */
function routes(options: ApiOptions, unauthorized: Metric): FastifyPluginAsyncZod {
  const { fleet } = options;
  return async (app) => {
    if (options.audit) recordStateChanges(app, options.audit);

    app.get(openApiPath, { ...scoped('read'), schema: { hide: true } }, async () => app.swagger());

    app.get('/healthz', { ...scoped('none', { anyHost: true }), schema: { response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({
      status: 'ok' as const,
    }));

    void app.register(metricsRoute(fleet, [unauthorized]));
    await app.register(readRoutes(fleet, options.audit));
    await app.register(writeRoutes(fleet));
    await app.register(previewRoutes(fleet));
    await app.register(notificationRoutes(options.notifications));
    registerWebhooks(app, { fleet, repository: options.repository ?? (() => undefined), previews: options.previews, log: options.log, deliveries: options.deliveries });
  };
}
