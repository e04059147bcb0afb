/** The forge: commit statuses and pull-request comments that tell a pull request what its preview found. */
export { ForgePoster, defaultForgePolicy, type ForgePolicy } from './poster.js';
export { commentBody, commentLimit } from './comment.js';
export { authHeaders, commentRequest, forgeState, statusContext, statusRequest, type CommitState, type ForgeRequest, type ForgeSettings } from './requests.js';
export { previewEnded, previewStatus, previewSummary, targetSummary } from './summary.js';
