import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Fleet } from '../../reconcile/fleet.js';
import { previewSummarySchema, previewViewSchema } from '../../reconcile/previews.js';
import { scoped } from '../scopes.js';
import { cancelSchema, errors, idParams, pageLimit } from '../schemas.js';
import { actorOf } from './write.js';

const previewBody = z.strictObject({
  ref: z
    .string({ error: 'must be a branch, a tag, a commit sha or a refs/… name' })
    .min(1, { error: 'must be a branch, a tag, a commit sha or a refs/… name' })
    .max(255, { error: 'must be at most 255 characters' })
    .describe('feature/x, v1.4.0, a full sha, or refs/pull/7/head'),
  targets: z
    .array(z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }), { error: 'must be an array of target names' })
    .optional()
    .describe('target names; all targets of the revision when absent'),
});

/** Previews: a check of any revision against the live fleet, and its plan per target. */
export function previewRoutes(fleet: Fleet): FastifyPluginAsyncZod {
  return async (app) => {
    const write = scoped('write');
    const read = scoped('read');
    const security = [{ bearer: [] }];

    app.post(
      '/api/v1/previews',
      {
        ...write,
        schema: {
          summary: 'check a revision (any ref) against the live fleet, never applying it',
          security,
          body: previewBody,
          response: { 202: z.object({ id: z.number().int() }), ...errors },
        },
      },
      async (request, reply) => {
        const id = fleet.previews.start(request.body.ref, { targets: request.body.targets, requestedBy: actorOf(request) });
        return reply.code(202).send({ id });
      },
    );

    app.get(
      '/api/v1/previews',
      { ...read, schema: { summary: 'recent previews, newest first', querystring: z.object({ limit: pageLimit }), response: { 200: z.object({ previews: z.array(previewSummarySchema) }), ...errors } } },
      async (request) => ({ previews: fleet.previews.list(request.query.limit) }),
    );

    app.get(
      '/api/v1/previews/:id',
      { ...read, schema: { summary: 'a preview: per target, what the revision would change, the drift already there, unverified tasks, failures', params: idParams, response: { 200: previewViewSchema, ...errors } } },
      async (request) => fleet.previews.view(request.params.id),
    );

    app.post(
      '/api/v1/previews/:id/cancel',
      { ...write, schema: { summary: 'stop a preview that has not ended', security, params: idParams, response: { 202: cancelSchema, ...errors } } },
      async (request, reply) => {
        fleet.previews.cancel(request.params.id);
        return reply.code(202).send({ id: request.params.id, cancelling: true as const });
      },
    );
  };
}
