export type { Revision } from './revision.js';
export { GitSource, redactUrl } from './git-source.js';
