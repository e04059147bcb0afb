import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { FleetError } from '../errors.js';
import { requireToken, type ApiToken } from './auth.js';
import { hostOfRequest, type AllowedHosts } from './hosts.js';

/**
 * Who may call a route: anyone (`none`), a read or write token when `api.requireReadToken` is on (`read`), a
 * write token always (`write`). Contract note 20: the scope belongs to the route, so the router's decoding of
 * a path (`/%61pi/…`, an absolute-form target) can never reach a route without its check.
 */
export const routeScopes = ['none', 'read', 'write'] as const;
export type RouteScope = (typeof routeScopes)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route; every route declares it (enforceScopes refuses one that does not). */
    scope?: RouteScope;
    /** Answers whatever the Host header names: for callers that are no browser (health checks, scrapers, git hosts). */
    anyHost?: boolean;
  }
  interface FastifyInstance {
    /** The scope of every route of a plugin whose routes we do not declare ourselves (@fastify/static's). */
    scopeOfPluginRoutes?: RouteScope;
  }
}

/** A route's options declaring its scope: `app.get(url, { ...scoped('read'), schema }, handler)`. */
export function scoped(scope: RouteScope, more: { anyHost?: boolean } = {}): { config: { scope: RouteScope; anyHost?: boolean } } {
  return { config: { scope, ...more } };
}

/**
 * Gives every route a plugin registers from now on `scope`: for a plugin such as @fastify/static that declares
 * its routes itself and takes no route config. Call it inside the encapsulating plugin that registers it.
 */
export function scopePluginRoutes(app: FastifyInstance, scope: RouteScope): void {
  app.decorate('scopeOfPluginRoutes', scope);
}

export type ScopeOptions = {
  tokens: () => readonly ApiToken[];
  requireReadToken: () => boolean;
  /** The Host names the API answers to (against DNS rebinding); absent, any. */
  allowedHosts?: () => AllowedHosts;
};

/**
 * Two hooks on the root: one at registration that refuses a route without a scope (the API then never starts),
 * one per request that reads the scope of the route the router matched. A path no route matched keeps its
 * 404 (it has no data to give); the Host check (421) comes first, before anything about tokens is said.
 */
export function enforceScopes(app: FastifyInstance, options: ScopeOptions): void {
  app.addHook('onRoute', function declare(this: FastifyInstance, route: RouteOptions) {
    const scope = route.config?.scope ?? this.scopeOfPluginRoutes;
    if (!scope || !routeScopes.includes(scope)) {
      const methods = [route.method].flat().join(',');
      throw new FleetError('internal', `route ${methods} ${route.url} declares no scope: give it config: { scope: 'none' | 'read' | 'write' }`);
    }
    // Written back, so the HEAD route fastify derives from a GET, and the request hook, see the same scope.
    route.config = { ...route.config, scope };
  });
  const tokens = { read: requireToken(options.tokens, 'read'), write: requireToken(options.tokens, 'write') };
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const { scope, anyHost } = request.routeOptions.config;
    const allowed = options.allowedHosts?.();
    const host = hostOfRequest(request);
    if (allowed && !anyHost && !allowed.has(host)) {
      // The name is the caller's own text: cut short, quoted.
      return reply.code(421).send({ error: `this fleetcd does not answer to the host ${JSON.stringify(host.slice(0, 100))}: add it to api.allowedHosts` });
    }
    if (scope === 'write') await tokens.write(request);
    else if (scope === 'read' && options.requireReadToken()) await tokens.read(request);
  });
}
