import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, YAMLException, load } from 'js-yaml';
import { ConfigError, messageOf } from '../errors.js';
import { describeIssues } from '../zod-messages.js';
import { configSchema, type Config } from './schema.js';

/** Where the packaged unit and the docs put the config. */
export const defaultConfigPath = '/etc/fleetcd/fleetcd.yaml';

/**
 * The config file to load: the `--config` value, else `FLEETCD_CONFIG`, else the default. `env` is a
 * parameter so tests need not change process.env.
 */
export function configPath(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return flag;
  if (env.FLEETCD_CONFIG) return env.FLEETCD_CONFIG;
  return defaultConfigPath;
}

/** Reads, parses and validates one config file; any problem is one ConfigError naming the file. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`${file}: cannot read: ${reasonOf(error)}`, { cause: error });
  }
  return parseConfig(parseYaml(text, file), file);
}

/**
 * YAML 1.2's core schema: values stay what JSON can carry (extra vars reach Ansible as JSON), so
 * `2024-01-01` stays a string rather than becoming a Date.
 */
function parseYaml(text: string, file: string): unknown {
  try {
    return load(text, { filename: file, schema: CORE_SCHEMA });
  } catch (error) {
    if (!(error instanceof YAMLException)) throw error;
    const { line, column, snippet } = error.mark;
    const where = `line ${line + 1}, column ${column + 1}`;
    const message = `${file}: ${where}: invalid YAML: ${error.reason}`;
    throw new ConfigError(snippet ? `${message}\n${snippet}` : message, { cause: error });
  }
}

/** Validates an already parsed document; `file` locates relative paths and prefixes every message. */
export function parseConfig(raw: unknown, file: string): Config {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file}: must be a YAML mapping`);
  }
  const result = configSchema(file).safeParse(raw, { reportInput: true });
  if (!result.success) {
    const lines = describeIssues(result.error.issues).map((line) => `${file}: ${line}`);
    throw new ConfigError(lines.join('\n'), { cause: result.error });
  }
  return deepFreeze(result.data);
}

/**
 * The trimmed contents of a secret file (token, password), read when needed rather than kept in Config,
 * so a rotated secret is picked up and the value never sits in a logged object. `what` is the config key.
 */
export function readSecretFile(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${what}: cannot read ${path}: ${reasonOf(error)}`, { cause: error });
  }
  const secret = text.trim();
  if (secret === '') throw new ConfigError(`${what}: ${path} is empty`);
  return secret;
}

const fileErrors: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
};

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return (code && fileErrors[code]) ?? messageOf(error);
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const child of Object.values(value)) deepFreeze(child);
  return Object.freeze(value);
}
