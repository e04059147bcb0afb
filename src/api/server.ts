import { createReadStream, existsSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import { runLogFile } from '../reconcile/execute-run.js';
import { requireBearer } from './auth.js';
import { errorHandler } from './errors.js';
import { pageLimit, positiveId, reconcileBody } from './params.js';
import { FleetError } from '../errors.js';
import type { Config } from '../config/index.js';
import { registerWebhooks } from './webhooks.js';

export type ApiOptions = {
  fleet: Fleet;
  log: Logger;
  stateDir: string;
  /** The bearer token every POST needs; without one, POSTs are refused. */
  token?: string;
  /** The watched repository: the webhook route needs its branch and `webhookSecretFile`. */
  repository?: Config['repository'];
};

/** Builds the HTTP API (not listening yet), so tests can drive it with inject() or a real port. */
export function buildApi(options: ApiOptions): FastifyInstance {
  const { fleet } = options;
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });
  app.setErrorHandler(errorHandler(options.log));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });
  const auth = requireBearer(options.token);

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/api/v1/status', async () => fleet.status());

  app.get<{ Querystring: { limit?: string } }>('/api/v1/source', async (request) => {
    const view = fleet.sourceView(pageLimit(request.query.limit));
    if (!view) throw new FleetError('not-found', 'this fleetcd is not watching a repository');
    return view;
  });
  registerWebhooks(app, { fleet, repository: options.repository, log: options.log });

  app.get<{ Params: { name: string } }>('/api/v1/targets/:name', async (request) => fleet.target(request.params.name));

  app.get<{ Querystring: { target?: string; limit?: string; before?: string } }>('/api/v1/runs', async (request) => {
    const { target, limit, before } = request.query;
    return {
      runs: fleet.runs({
        target: target || undefined,
        limit: pageLimit(limit),
        beforeId: before === undefined ? undefined : positiveId(before, 'before'),
      }),
    };
  });

  app.get<{ Params: { id: string } }>('/api/v1/runs/:id', async (request) => fleet.run(positiveId(request.params.id, 'id')));

  app.get<{ Params: { id: string }; Querystring: { after?: string; limit?: string } }>(
    '/api/v1/runs/:id/events',
    async (request) => {
      const { after, limit } = request.query;
      const cursor = after === undefined ? 0 : positiveId(after, 'after');
      return fleet.events(positiveId(request.params.id, 'id'), cursor, pageLimit(limit));
    },
  );

  app.get<{ Params: { id: string } }>('/api/v1/runs/:id/log', async (request, reply) => {
    const id = positiveId(request.params.id, 'id');
    fleet.run(id);
    const file = runLogFile(options.stateDir, id);
    if (!existsSync(file)) throw new FleetError('not-found', `run ${id} has no log (it never started)`);
    return reply.type('text/plain; charset=utf-8').send(createReadStream(file));
  });

  app.post('/api/v1/reconcile', { onRequest: auth }, async (request, reply) => {
    const body = reconcileBody(request.body);
    const runs = fleet.reconcile(body.targets, { trigger: 'api', mode: body.mode });
    return reply.code(202).send({ runs });
  });

  app.post<{ Params: { id: string } }>('/api/v1/runs/:id/cancel', { onRequest: auth }, async (request, reply) => {
    const id = positiveId(request.params.id, 'id');
    fleet.cancel(id);
    return reply.code(202).send({ id, cancelling: true });
  });

  return app;
}
