import path from 'node:path';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';

/** What a run does: `detect` runs ansible in check mode and records drift, `apply` also heals it. */
export const modes = ['detect', 'apply'] as const;
export type Mode = (typeof modes)[number];

/** How a fetched revision's signature is checked before anything runs from it. */
export const verifyModes = ['ssh', 'gpg'] as const;
export type VerifyMode = (typeof verifyModes)[number];

/** Each problem's first half; the loader adds what it got, so every message follows one template. */
const expected = {
  text: 'must be a non-empty string',
  file: 'must be a file path',
  flag: 'must be true or false',
  count: 'must be an integer ≥ 1',
  mode: `must be one of ${modes.join(', ')}`,
  verifyMode: `must be one of ${verifyModes.join(', ')}`,
  duration: 'must be a duration like 90s, 15m or 2h',
  mapping: 'must be a mapping',
  list: 'must be a list',
  listen: 'must be host:port with a port from 0 to 65535, like 127.0.0.1:9110 or [::1]:9110',
  repoPath: 'must be a relative path inside the repository, without .. segments',
  targetName: 'must be a target name: letters, digits, _ . - and starting with a letter or digit',
  varName: 'must be a variable name: letters, digits and _, not starting with a digit',
} as const;

/** Timers hold at most 2^31-1 ms; Node fires a longer one after 1 ms, which would turn a poll into a busy loop. */
const maxDurationMs = 2 ** 31 - 1;

/** Reports one problem from inside a transform; the returned NEVER is discarded because parsing failed. */
function reject(ctx: z.core.$RefinementCtx, message: string, input: unknown): never {
  ctx.issues.push({ code: 'custom', message, input });
  return z.NEVER;
}

const text = () => z.string({ error: expected.text }).min(1, { error: expected.text });
const flag = () => z.boolean({ error: expected.flag });
const count = () => z.int({ error: expected.count }).min(1, { error: expected.count });
const mode = () => z.enum(modes, { error: expected.mode });
const list = <T extends z.ZodType>(item: T) => z.array(item, { error: expected.list });
const mapping = <S extends z.core.$ZodLooseShape>(shape: S) => z.strictObject(shape, { error: expected.mapping });
const isMapping = (payload: z.core.ParsePayload) => typeof payload.value === 'object' && payload.value !== null;

/** An empty YAML key (`ansible:` with every line under it commented out) means "not set", not null. */
const nullAsAbsent = <T extends z.ZodType>(schema: T) => z.preprocess((value) => value ?? undefined, schema);

function duration(options: { allowZero?: boolean } = {}) {
  return z.string({ error: expected.duration }).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) return reject(ctx, expected.duration, value);
    if (ms === 0 && !options.allowZero) return reject(ctx, 'must be longer than 0', value);
    if (ms > maxDurationMs) return reject(ctx, `must be at most ${formatDuration(maxDurationMs)}`, value);
    return ms;
  });
}

/** A file on this host, absolute once parsed. */
const hostFile = (configDir: string) =>
  z
    .string({ error: expected.file })
    .min(1, { error: expected.file })
    .transform((file) => path.resolve(configDir, file));

/** A path Ansible or git reads from inside a checkout; `..` could reach another revision or the state dir. */
const repoPath = () =>
  text().transform((value, ctx) => {
    if (value.startsWith('/') || value.split('/').includes('..')) return reject(ctx, expected.repoPath, value);
    return path.posix.normalize(value).replace(/(.)\/+$/, '$1');
  });

const listenPattern = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/;

const listen = () =>
  z.string({ error: expected.listen }).transform((value, ctx) => {
    const match = listenPattern.exec(value);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (host === undefined || !(port <= 65_535)) return reject(ctx, expected.listen, value);
    return { host, port };
  });

function verifySchema(configDir: string) {
  const file = hostFile(configDir);
  return mapping({
    mode: z.enum(verifyModes, { error: expected.verifyMode }),
    allowedSignersFile: file.optional(),
    keyringFile: file.optional(),
  }).superRefine(
    (verify, ctx) => {
      const needed = verify.mode === 'ssh' ? 'allowedSignersFile' : verify.mode === 'gpg' ? 'keyringFile' : undefined;
      if (needed && verify[needed] === undefined) {
        ctx.issues.push({ code: 'custom', path: [needed], input: undefined, message: `is required when mode is ${verify.mode}` });
      }
    },
    { when: isMapping },
  );
}

function repositorySchema(configDir: string) {
  const file = hostFile(configDir);
  return mapping({
    url: text().transform((url) => (/^\.\.?\//.test(url) ? path.resolve(configDir, url) : url)),
    branch: text().optional(),
    revision: text().optional(),
    path: repoPath().prefault('.'),
    pollInterval: duration().prefault('60s'),
    keepRevisions: count().default(5),
    sshKeyFile: file.optional(),
    knownHostsFile: file.optional(),
    strictHostKeyChecking: flag().default(true),
    tokenFile: file.optional(),
    usernameFile: file.optional(),
    passwordFile: file.optional(),
    webhookSecretFile: file.optional(),
    verify: verifySchema(configDir).optional(),
  })
    .superRefine(
      (repo, ctx) => {
        const problem = (message: string, key?: string) =>
          ctx.issues.push({ code: 'custom', path: key ? [key] : [], input: undefined, message });
        if (repo.branch !== undefined && repo.revision !== undefined) problem('set either branch or revision, not both');
        if (repo.usernameFile !== undefined && repo.passwordFile === undefined) {
          problem('is required when usernameFile is set', 'passwordFile');
        }
        if (repo.passwordFile !== undefined && repo.usernameFile === undefined) {
          problem('is required when passwordFile is set', 'usernameFile');
        }
      },
      { when: isMapping },
    )
    .transform(
      ({ pollInterval, branch, revision, ...rest }) =>
        ({
          ...rest,
          ...(revision === undefined ? { branch: branch ?? 'main' } : { revision }),
          pollIntervalMs: pollInterval,
        }) as typeof rest & { branch?: string; revision?: string; pollIntervalMs: number },
    );
}

function ansibleSchema(configDir: string) {
  const file = hostFile(configDir);
  return mapping({
    vaultPasswordFile: file.optional(),
    vaultIds: list(mapping({ id: text(), file })).default([]),
    sshKeyFile: file.optional(),
    knownHostsFile: file.optional(),
    strictHostKeyChecking: flag().optional(),
    pipelining: flag().default(true),
    controlPersist: duration({ allowZero: true }).prefault('60s'),
  }).transform(({ controlPersist, ...rest }) => ({ ...rest, controlPersistMs: controlPersist }));
}

const reconcileSchema = () =>
  mapping({
    mode: mode().default('detect'),
    interval: duration().prefault('15m'),
    concurrency: count().default(2),
    timeout: duration().prefault('30m'),
    shutdownGrace: duration({ allowZero: true }).prefault('30s'),
  }).transform(({ interval, timeout, shutdownGrace, ...rest }) => ({
    ...rest,
    intervalMs: interval,
    timeoutMs: timeout,
    shutdownGraceMs: shutdownGrace,
  }));

const varName = () => z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: expected.varName });

function targetSchema(configDir: string) {
  return mapping({
    mode: mode().optional(),
    playbook: repoPath().optional(),
    limit: text().optional(),
    tags: list(text()).optional(),
    skipTags: list(text()).optional(),
    extraVars: z.record(varName(), z.unknown(), { error: expected.mapping }).optional(),
    secretVars: z.record(varName(), hostFile(configDir), { error: expected.mapping }).optional(),
    forks: count().optional(),
    timeout: duration().optional(),
    become: flag().optional(),
  }).transform(({ timeout, ...rest }) => (timeout === undefined ? rest : { ...rest, timeoutMs: timeout }) as typeof rest & { timeoutMs?: number });
}

/** Per-target settings from `targets.<name>`; each one left out falls back to the global setting. */
export type TargetOverrides = z.output<ReturnType<typeof targetSchema>>;

/**
 * The schema of one config file. It is built per file because relative paths are resolved against that
 * file's folder while parsing, so the output is already the Config (apart from freezing).
 */
export function configSchema(file: string) {
  const configDir = path.dirname(path.resolve(file));
  const targetName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: expected.targetName });
  return mapping({
    repository: nullAsAbsent(repositorySchema(configDir)),
    stateDir: text()
      .transform((dir) => path.resolve(configDir, dir))
      .default('/var/lib/fleetcd'),
    api: nullAsAbsent(
      mapping({ listen: listen().prefault('127.0.0.1:9110'), tokenFile: hostFile(configDir).optional() })
        .transform(({ listen: { host, port }, ...rest }) => ({ host, port, ...rest }))
        .prefault({}),
    ),
    ansible: nullAsAbsent(ansibleSchema(configDir).prefault({})),
    reconcile: nullAsAbsent(reconcileSchema().prefault({})),
    targets: nullAsAbsent(
      z.record(targetName, nullAsAbsent(targetSchema(configDir).prefault({})), { error: expected.mapping }).default({}),
    ),
  }).transform((parsed) => ({ file: path.resolve(file), configDir, ...parsed }));
}

/**
 * The validated config, as the schema produces it: defaults filled in, durations in milliseconds, host file
 * paths absolute (relative ones are taken from the config file's folder, so the daemon's working directory
 * does not matter). The loader deep-freezes it, so no part of the daemon can change what another part reads.
 */
export type Config = z.output<ReturnType<typeof configSchema>>;
