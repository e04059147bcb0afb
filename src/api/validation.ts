import type { FastifySchemaCompiler, FastifySerializerCompiler } from 'fastify';
import type { ZodType } from 'zod';
import { FleetError } from '../errors.js';
import { describeIssues } from '../zod-messages.js';

/**
 * Request parts are parsed with their zod schema; a problem is a 400 whose message names the field and what
 * was wrong with it, from the same template as the config's messages.
 */
export const validatorCompiler: FastifySchemaCompiler<ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data, { reportInput: true });
    if (result.success) return { value: result.data };
    return { error: new FleetError('bad-request', describeIssues(result.error.issues, 'unknown field').join('; ')) };
  };

/**
 * Responses are written as JSON without a second pass through zod: the handlers are typed against the same
 * schemas at compile time. With `checkResponses` (the API tests) every response is also parsed, so a
 * response that does not match its documented schema fails loudly.
 */
export function serializerCompiler(checkResponses: boolean): FastifySerializerCompiler<ZodType> {
  return ({ schema, url, method }) =>
    (data) => {
      if (checkResponses) {
        const result = schema.safeParse(data);
        if (!result.success) {
          throw new Error(`${method} ${url}: response does not match its schema: ${describeIssues(result.error.issues).join('; ')}`);
        }
      }
      return JSON.stringify(data);
    };
}
