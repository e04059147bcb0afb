import type { FastifyInstance } from 'fastify';
import { FleetError } from '../errors.js';

/** No request of the API nests deeper than a handful of levels; 32 leaves room and stops a stack overflow. */
export const maxBodyDepth = 32;

/**
 * JSON bodies as fastify parses them (prototype poisoning refused), but refused with a 400 when they nest
 * deeper than `maxBodyDepth`: `JSON.parse` copes with any depth, but everything after it that walks the value
 * recursively (validation messages, the audit log's copy) would overflow the stack and answer 500.
 */
export function parseJsonBodies(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body.toString(), (error: Error | null, value?: unknown) => {
      if (error) return done(error, undefined);
      if (nestsDeeperThan(value, maxBodyDepth)) {
        return done(new FleetError('bad-request', `request body: nests deeper than ${maxBodyDepth} levels`), undefined);
      }
      done(null, value);
    });
  });
}

/** Whether objects and arrays nest in `value` more than `max` levels deep (a scalar is 0 deep); walked without recursion. */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}
