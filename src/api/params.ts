import { badRequest } from './errors.js';

/** Request input checks that name the field and the problem. */

export function positiveId(value: unknown, field: string): number {
  const text = String(value ?? '');
  if (!/^[1-9][0-9]{0,15}$/.test(text)) throw badRequest(`${field}: must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(text);
}

export function pageLimit(value: unknown): number {
  if (value === undefined || value === '') return 50;
  const text = String(value);
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > 500) {
    throw badRequest(`limit: must be an integer from 1 to 500, got ${JSON.stringify(value)}`);
  }
  return Number(text);
}

export type ReconcileBody = { targets?: string[]; mode?: 'check' | 'apply' };

export function reconcileBody(body: unknown): ReconcileBody {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('body: must be a JSON object');
  const { targets, mode, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw badRequest(`${extra[0]}: unknown field (allowed: targets, mode)`);
  if (targets !== undefined) {
    if (!Array.isArray(targets)) throw badRequest(`targets: must be an array of target names, got ${JSON.stringify(targets)}`);
    const bad = targets.findIndex((t) => typeof t !== 'string' || t.length === 0);
    if (bad !== -1) throw badRequest(`targets.${bad}: must be a non-empty string, got ${JSON.stringify(targets[bad])}`);
  }
  if (mode !== undefined && mode !== 'check' && mode !== 'apply') {
    throw badRequest(`mode: must be "check" or "apply", got ${JSON.stringify(mode)}`);
  }
  return { targets: targets as string[] | undefined, mode: mode as ReconcileBody['mode'] };
}
