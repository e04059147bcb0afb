import type { ForgeFamily } from '../source/index.js';

/** Pure: the API requests of each forge for a commit status and a pull-request comment. */

/** The name the status carries on the forge (GitHub's and Gitea's `context`, GitLab's `name`). */
export const statusContext = 'fleetcd/preview';

/** GitHub refuses a status description over 140 characters; the others get the same one line. */
export const descriptionLimit = 140;

/** A preview's state, before it is spelled the way a forge wants it. */
export type CommitState = 'pending' | 'running' | 'success' | 'failure' | 'cancelled';

/** Where a forge is: `previews.forge` without the token file. */
export type ForgeSettings = { type: ForgeFamily; url: string };

/** One POST to a forge's API: where and what; the auth headers are added at send time. */
export type ForgeRequest = { url: string; body: Record<string, unknown> };

const states: Record<ForgeFamily, Record<CommitState, string>> = {
  github: { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', cancelled: 'error' },
  gitlab: { pending: 'pending', running: 'running', success: 'success', failure: 'failed', cancelled: 'canceled' },
  gitea: { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', cancelled: 'warning' },
};

/** The forge's word for a state: a superseded preview is GitHub's `error`, GitLab's `canceled`, Gitea's `warning`. */
export function forgeState(type: ForgeFamily, state: CommitState): string {
  return states[type][state];
}

/** A commit status on `sha` of the request's repository (owner/name, or GitLab's project id). */
export function statusRequest(
  forge: ForgeSettings,
  repository: string,
  sha: string,
  status: { state: CommitState; description: string; targetUrl: string },
): ForgeRequest {
  const common = { state: forgeState(forge.type, status.state), target_url: status.targetUrl, description: oneLine(status.description, descriptionLimit) };
  const base = apiBase(forge, repository);
  if (forge.type === 'gitlab') return { url: `${base}/statuses/${sha}`, body: { ...common, name: statusContext } };
  return { url: `${base}/statuses/${sha}`, body: { ...common, context: statusContext } };
}

/** A comment on pull request (GitLab: merge request) `number`. */
export function commentRequest(forge: ForgeSettings, repository: string, number: number, body: string): ForgeRequest {
  const base = apiBase(forge, repository);
  if (forge.type === 'gitlab') return { url: `${base}/merge_requests/${number}/notes`, body: { body } };
  return { url: `${base}/issues/${number}/comments`, body: { body } };
}

/** Each forge's way of sending the token, and the media type GitHub asks for. */
export function authHeaders(type: ForgeFamily, token: string): Record<string, string> {
  switch (type) {
    case 'github':
      return { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' };
    case 'gitlab':
      return { 'private-token': token, accept: 'application/json' };
    case 'gitea':
      return { authorization: `token ${token}`, accept: 'application/json' };
  }
}

/** The repository's (project's) part of the API: `{url}/repos/o/r`, `{url}/api/v4/projects/id`, `{url}/api/v1/repos/o/r`. */
function apiBase(forge: ForgeSettings, repository: string): string {
  const url = forge.url.replace(/\/+$/, '');
  const ownerName = repository.split('/').map(encodeURIComponent).join('/');
  switch (forge.type) {
    case 'github':
      return `${url}/repos/${ownerName}`;
    case 'gitlab':
      return `${url}/api/v4/projects/${encodeURIComponent(repository)}`;
    case 'gitea':
      return `${url}/api/v1/repos/${ownerName}`;
  }
}

/** Whitespace collapsed to single spaces, cut to `limit` characters with an ellipsis. */
export function oneLine(text: string, limit: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > limit ? `${line.slice(0, limit - 1).trimEnd()}…` : line;
}
