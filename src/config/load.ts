import { readFileSync } from 'node:fs';
import { CORE_SCHEMA, YAMLException, load } from 'js-yaml';
import type { z } from 'zod';
import { ConfigError, messageOf } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** Where the packaged unit and the docs put the config. */
export const defaultConfigPath = '/etc/fleetcd/fleetcd.yaml';

/**
 * The config file to load: the `--config` value (pass it, or the whole argument list to find it in), else
 * `FLEETCD_CONFIG`, else the default. `env` is a parameter so tests need not change process.env.
 */
export function configPath(args?: string | readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const flag = typeof args === 'string' ? args : args && configFlag(args);
  if (flag) return flag;
  if (env.FLEETCD_CONFIG) return env.FLEETCD_CONFIG;
  return defaultConfigPath;
}

function configFlag(args: readonly string[]): string | undefined {
  for (const [index, arg] of args.entries()) {
    if (arg.startsWith('--config=')) return arg.slice('--config='.length) || missingFlagValue();
    if (arg !== '--config') continue;
    const value = args[index + 1];
    return value && !value.startsWith('--') ? value : missingFlagValue();
  }
  return undefined;
}

function missingFlagValue(): never {
  throw new ConfigError('--config: needs a file path');
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
    const lines = result.error.issues.flatMap(describeIssue).map((line) => `${file}: ${line}`);
    throw new ConfigError(lines.join('\n'), { cause: result.error });
  }
  return deepFreeze(result.data);
}

/** `<key.path>: <problem>`, one line per problem, with what was found quoted as JSON. */
function describeIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${keyPath([...issue.path, key])}: unknown key`);
  }
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  const problem =
    issue.input !== undefined
      ? `${message}, got ${quote(issue.input)}`
      : issue.code === 'invalid_type'
        ? 'is required'
        : message;
  return [issue.path.length > 0 ? `${keyPath(issue.path)}: ${problem}` : problem];
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
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
