import { readSecretFile, type Config } from '../config/index.js';
import { ConfigError } from '../errors.js';
import type { Receiver } from './types.js';

/** A header a receiver checks, read from `secretHeaderFile`. Its value is never logged, stored or shown. */
export type SecretHeader = { name: string; value: string };

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Reads a receiver's secret header (`Header-Name: value`) from its file. It is read for every delivery, so
 * a rotated secret takes effect without a reload. Errors name the file, never what it holds.
 */
export function readSecretHeader(receiver: Receiver): SecretHeader | undefined {
  if (!receiver.secretHeaderFile) return undefined;
  const what = `notifications.${receiver.name}.secretHeaderFile`;
  const text = readSecretFile(receiver.secretHeaderFile, what);
  const colon = text.indexOf(':');
  const name = text.slice(0, Math.max(colon, 0)).trim();
  const value = text.slice(colon + 1).trim();
  if (colon < 0 || !headerName.test(name) || value === '' || /[\r\n]/.test(value)) {
    throw new ConfigError(`${what}: ${receiver.secretHeaderFile} must hold one line \`Header-Name: value\``);
  }
  return { name, value };
}

/** Checks every receiver's secret header file (at start and on reload), so a bad one is refused up front. */
export function checkSecretHeaders(config: Pick<Config, 'notifications'>): void {
  for (const receiver of config.notifications) readSecretHeader(receiver);
}
