import { hostname, networkInterfaces } from 'node:os';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';

/** The Host names the API answers to. */
export type AllowedHosts = { has(host: string): boolean; readonly names: readonly string[] };

/** What the machine is called and its addresses, read when the list is made (tests pass their own). */
export type Machine = { hostname: string; addresses: readonly string[] };

export function thisMachine(): Machine {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, '')));
  return { hostname: hostname(), addresses };
}

const wildcards = new Set(['0.0.0.0', '::', '[::]']);

/**
 * The Host names a browser may use for this API; against DNS rebinding, where a page of another site reaches a
 * daemon on loopback or the LAN under the attacker's own name. Always: the listen address, `localhost`,
 * `127.0.0.1`, `[::1]` and `api.publicUrl`'s host; with a wildcard listen address (every address of the
 * machine), also the machine's host name and each of its addresses. `api.allowedHosts` adds names; `*` in it
 * turns the check off (a proxy in front that checks Host itself).
 */
export function allowedHostsOf(api: Pick<Config['api'], 'host' | 'publicUrl' | 'allowedHosts'>, machine: Machine = thisMachine()): AllowedHosts {
  if (api.allowedHosts?.includes('*')) return { has: () => true, names: ['*'] };
  const names = ['localhost', '127.0.0.1', '[::1]', api.host];
  if (api.publicUrl) names.push(new URL(api.publicUrl).hostname);
  if (wildcards.has(api.host)) names.push(machine.hostname, ...machine.addresses);
  names.push(...(api.allowedHosts ?? []));
  const set = new Set(names.map(normalHost));
  return { has: (host) => set.has(normalHost(host)), names: [...set] };
}

/**
 * The host a request is for, without its port: the authority of an absolute-form target (RFC 9112 §3.2.2: the
 * server then ignores Host), else the Host header; '' when there is none.
 */
export function hostOfRequest(request: FastifyRequest): string {
  const target = request.raw.url ?? '';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    try {
      return new URL(target).hostname;
    } catch {
      return '';
    }
  }
  const header = request.headers.host ?? '';
  const bracketed = /^\[[^\]]*\]/.exec(header);
  return bracketed ? bracketed[0] : (header.split(':')[0] ?? '');
}

/** Lower case, an IPv6 address in brackets, without the trailing dot of a fully qualified name. */
function normalHost(host: string): string {
  const lower = host.toLowerCase().replace(/\.$/, '');
  return lower.includes(':') && !lower.startsWith('[') ? `[${lower}]` : lower;
}
