import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { FleetError } from '../errors.js';
import { deliverySchema, type Delivery } from '../notify/index.js';
import { errorSchema, pageLimit } from './schemas.js';
import { scoped } from './scopes.js';

/** Where the deliveries are read from (the daemon's Notifier). */
export type NotificationLog = { recent(limit: number): Delivery[] };

export const notificationsQuery = z.object({ limit: pageLimit });
export const notificationListSchema = z.object({ notifications: z.array(deliverySchema) });
export type NotificationList = z.infer<typeof notificationListSchema>;

/** `GET /api/v1/notifications`: the newest deliveries with their attempts and errors, never a URL or secret. */
export function notificationRoutes(log: NotificationLog | undefined): FastifyPluginAsyncZod {
  return async (app) => {
    app.get(
      '/api/v1/notifications',
      {
        ...scoped('read'),
        schema: {
          summary: 'notification deliveries, newest first: event, receiver, attempts, outcome',
          querystring: notificationsQuery,
          response: { 200: notificationListSchema, 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema },
        },
      },
      async (request) => {
        if (!log) throw new FleetError('not-found', 'this fleetcd sends no notifications');
        return { notifications: log.recent(request.query.limit) };
      },
    );
  };
}
