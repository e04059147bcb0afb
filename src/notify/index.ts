/** Notifications: which events fire, their payloads, and delivery to each receiver in the background. */
export { Notifier, type NotifierDeps } from './notifier.js';
export { checkSecretHeaders } from './secret-header.js';
export { defaultDeliveryPolicy, type DeliveryPolicy } from './receiver-queue.js';
export { deliverySchema, type Delivery } from './types.js';
