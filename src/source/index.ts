export type { Revision } from './revision.js';
export { GitSource, RevisionRefused, redactUrl, redactUrls, sourceViewSchema, type GitSourceOptions, type SourceView } from './git-source.js';
export type { RevisionRecord, SourceHistory } from './history.js';
export { checkoutPathProblem, isInside } from './paths.js';
export { authenticateWebhook, parsePush, pushDecision, webhookBodyLimit, webhookDeliveryId, webhookEvent, webhookPayload } from './webhook.js';
export type { PushEvent, WebhookProvider } from './webhook.js';
export { forgeFamily, isPullRequestDelivery, parsePullRequest, pullRequestDecision, repositoryPath } from './pull-request.js';
export type { ForgeFamily, PullRequestDecision, PullRequestEvent, PullRequestRef } from './pull-request.js';
export { lineageCommitSchema, type Lineage, type LineageBounds, type LineageCommit } from './lineage.js';
