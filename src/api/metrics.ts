import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Metric } from 'prom-client';
import { z } from 'zod';
import type { Fleet } from '../reconcile/fleet.js';
import { FleetMetrics } from '../reconcile/metrics.js';
import { scoped } from './scopes.js';

/**
 * `GET /metrics` for Prometheus: the fleet's metrics in the text format. It needs no token, whatever the API's
 * read policy, as scrapers rarely carry one; it shows counts and names, never diffs or secrets. The metrics'
 * counters start with this API and stop counting when it closes. `apiMetrics` are the API's own (refusals),
 * served in the same registry.
 */
export function metricsRoute(fleet: Fleet, apiMetrics: readonly Metric[] = []): FastifyPluginAsyncZod {
  return async (app) => {
    const metrics = new FleetMetrics(fleet);
    for (const metric of apiMetrics) metrics.registry.registerMetric(metric);
    app.addHook('onClose', async () => metrics.close());
    app.get(
      '/metrics',
      { ...scoped('none', { anyHost: true }), schema: { summary: "Prometheus metrics (text format): runs, targets' status, source, queue, process", produces: ['text/plain'], response: { 200: z.string().describe('text/plain') } } },
      async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.scrape()),
    );
  };
}
