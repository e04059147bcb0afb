import { z } from 'zod';
import { notificationEvents, type Config, type NotificationEvent } from '../config/index.js';
import type { TargetStatus } from '../reconcile/status.js';
import type { RunSummary } from '../store/types.js';

/** One configured receiver: `notifications[]` of the config. */
export type Receiver = Config['notifications'][number];

/**
 * What happened, as every format tells it: built once per event, rendered per receiver's format at send time.
 * `target`, `status` and `run` are null for `source-error`, which is about the repository, not a target.
 */
export type Notice = {
  event: NotificationEvent;
  at: string;
  target: string | null;
  status: TargetStatus | null;
  problem: string | null;
  run: { id: number; kind: RunSummary['kind']; revision: string; summary: RunSummary['summary'] } | null;
  /** The run (or the source) on the status page. */
  url: string;
  /** One line for people, without markup: `web drifted: 2 hosts would change (check run #42)`. */
  text: string;
};

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/** A delivery as recorded and as `GET /api/v1/notifications` shows it: no URL, no header, ever. */
export const deliverySchema = z.object({
  id: z.number().int(),
  notification: z.string().describe('the name of the notification in the config'),
  event: z.enum(notificationEvents),
  target: z.string().nullable().describe('null for source-error'),
  runId: z.number().int().nullable(),
  summary: z.string().describe('the one-line text of the event'),
  createdAt: z.string().describe('ISO 8601 UTC'),
  attemptedAt: z.string().nullable().describe('when the last attempt started'),
  attempts: z.number().int(),
  status: z.enum(deliveryStatuses),
  httpStatus: z.number().int().nullable().describe("the receiver's answer to the last attempt, if it answered"),
  error: z.string().nullable().describe('why the last attempt failed, or why the delivery was given up'),
});
export type Delivery = z.infer<typeof deliverySchema>;
