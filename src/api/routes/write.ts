import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Fleet } from '../../reconcile/fleet.js';
import { scoped } from '../scopes.js';
import {
  cancelSchema,
  errors,
  idParams,
  nameParams,
  queuedRunsSchema,
  reconcileBodySchema,
  rollbackBodySchema,
  suspendBodySchema,
  targetDetailSchema,
} from '../schemas.js';

/** The name of the token a write request came with (the auth hook ran first). */
export function actorOf(request: FastifyRequest): string {
  return request.actor?.name ?? 'api';
}

/** The write routes: reconcile, cancel, suspend, resume, rollback. Each needs a write token. */
export function writeRoutes(fleet: Fleet): FastifyPluginAsyncZod {
  return async (app) => {
    const write = scoped('write');
    const security = [{ bearer: [] }];

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
  };
}
