import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { scopePluginRoutes } from './scopes.js';

/** Where `npm run build` puts the page: dist/web, next to this module's dist/api. */
export const pageDir = fileURLToPath(new URL('../web/', import.meta.url));

/**
 * Only the page's own files, from this origin: the page talks to the API of the daemon that served it and
 * nothing else, and may not be framed by another site (its buttons act with the token).
 */
const pagePolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Serves the status page (index.html at `/`, its script and style beside it) from `dist/web`; only the files
 * found there at start-up, no directory listing, every other path keeps the API's 404. The files are small and
 * not fingerprinted, so browsers revalidate them (ETag, Last-Modified) rather than keep a stale page.
 * Without a built page, `/` says how to build it.
 */
export async function registerPage(app: FastifyInstance, options: { root?: string } = {}): Promise<void> {
  const root = options.root ?? pageDir;
  // The page and its files are public (the page asks for a token when the API wants one).
  scopePluginRoutes(app, 'none');
  if (!existsSync(join(root, 'index.html'))) {
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.code(404).send({ error: 'the web page is not built: run npm run build' }),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    list: false,
    index: ['index.html'],
    cacheControl: false,
    setHeaders: (reply) => {
      void reply.header('cache-control', 'no-cache');
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('content-security-policy', pagePolicy);
      void reply.header('referrer-policy', 'no-referrer');
    },
  });
}
