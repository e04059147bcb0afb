import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { FleetError } from '../../errors.js';
import type { Fleet } from '../../reconcile/fleet.js';
import { auditEntrySchema, type AuditLog } from '../../store/audit.js';
import { scoped } from '../scopes.js';
import {
  auditQuery,
  compareQuery,
  comparisonSchema,
  errors,
  eventPageSchema,
  eventsQuery,
  hostPageSchema,
  idParams,
  logQuery,
  nameParams,
  runDetailSchema,
  runListSchema,
  runsQuery,
  sourceQuery,
  sourceViewSchema,
  statusViewSchema,
  targetDetailSchema,
} from '../schemas.js';

/** The read routes: the fleet, its targets, hosts, runs and logs, the source, the audit log. */
export function readRoutes(fleet: Fleet, audit: AuditLog | undefined): FastifyPluginAsyncZod {
  return async (app) => {
    const read = scoped('read');
    app.get('/api/v1/status', { ...read, schema: { summary: 'the fleet: revision, source, every target', response: { 200: statusViewSchema } } }, async () =>
      fleet.status(),
    );

    app.get(
      '/api/v1/source',
      { ...read, schema: { summary: 'the watched repository and the tips seen', querystring: sourceQuery, response: { 200: sourceViewSchema, ...errors } } },
      async (request) => fleet.sourceView(request.query.limit),
    );

    app.get(
      '/api/v1/targets/:name',
      { ...read, schema: { summary: 'one target with its hosts', params: nameParams, response: { 200: targetDetailSchema, ...errors } } },
      async (request) => fleet.target(request.params.name),
    );

    app.get(
      '/api/v1/compare',
      {
        ...read,
        schema: {
          summary: 'what one target runs that another does not, both ways (409 when either runs nothing yet, or they are too far apart)',
          querystring: compareQuery,
          response: { 200: comparisonSchema, ...errors },
        },
      },
      async (request) => fleet.compare(request.query.from, request.query.to),
    );

    app.get(
      '/api/v1/audit',
      {
        ...read,
        schema: {
          summary: 'state-changing requests, newest first: who, when, what, and the answer',
          querystring: auditQuery,
          response: { 200: z.object({ entries: z.array(auditEntrySchema) }), ...errors },
        },
      },
      async (request) => {
        if (!audit) throw new FleetError('not-found', 'this fleetcd keeps no audit log');
        return { entries: audit.list(request.query.limit, request.query.before) };
      },
    );

    app.get(
      '/api/v1/hosts/:name',
      { ...read, schema: { summary: 'one host across targets: status, newest changes and failures, runs', params: nameParams, response: { 200: hostPageSchema, ...errors } } },
      async (request) => fleet.host(request.params.name),
    );

    app.get(
      '/api/v1/runs',
      { ...read, schema: { summary: 'runs, newest first', querystring: runsQuery, response: { 200: runListSchema, ...errors } } },
      async (request) => {
        const { target, limit, before } = request.query;
        return { runs: fleet.runs({ target, limit, beforeId: before }) };
      },
    );

    app.get(
      '/api/v1/runs/:id',
      { ...read, schema: { summary: 'one run: hosts, changes with diffs, failures', params: idParams, response: { 200: runDetailSchema, ...errors } } },
      async (request) => fleet.run(request.params.id),
    );

    app.get(
      '/api/v1/runs/:id/events',
      {
        ...read,
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
        ...read,
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
        // The log's bytes are whatever the playbook printed: nosniff keeps a browser from running them as HTML or script.
        return reply
          .type('text/plain; charset=utf-8')
          .header('x-content-type-options', 'nosniff')
          .header('x-log-size', String(log.size))
          .send(log.stream as never);
      },
    );
  };
}
