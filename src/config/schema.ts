import path from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { parseSize } from './size.js';

/** What a run does: `detect` runs ansible in check mode and records drift, `apply` also heals it. */
export const modes = ['detect', 'apply'] as const;
export type Mode = (typeof modes)[number];

/**
 * Whether a new revision's apply waits for a check first: `auto` skips that check when nothing needs its plan
 * (reconcile/precheck.ts `precheckNeeded`), `always` keeps check → apply → verify.
 */
export const prechecks = ['auto', 'always'] as const;
export type Precheck = (typeof prechecks)[number];

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
  precheck: `must be one of ${prechecks.join(', ')}`,
  verifyMode: `must be one of ${verifyModes.join(', ')}`,
  duration: 'must be a duration like 90s, 15m or 2h',
  size: 'must be a size like 512KB, 50MB or 1GB',
  mapping: 'must be a mapping',
  list: 'must be a list',
  listen: 'must be host:port with a port from 0 to 65535, like 127.0.0.1:9110 or [::1]:9110',
  allowedHost: 'must be a host name or IP address without a port, like fleetcd.example.com, 10.0.0.5 or [fd00::1], or * for any host',
  repoPath: 'must be a relative path inside the repository, without .. segments',
  targetName: 'must be a target name: letters, digits, _ . - and starting with a letter or digit',
  varName: 'must be a variable name: letters, digits and _, not starting with a digit',
  percent: 'must be a percentage from 0% to 100%, like 10%',
  cron: 'must be a cron expression like "0 2 * * 1-5" (minute hour day-of-month month day-of-week)',
  timezone: 'must be an IANA time zone like UTC or Europe/Berlin',
  retries: 'must be an integer ≥ 0',
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
const precheck = () => z.enum(prechecks, { error: expected.precheck });
const list = <T extends z.ZodType>(item: T) => z.array(item, { error: expected.list });
const mapping = <S extends z.core.$ZodLooseShape>(shape: S) => z.strictObject(shape, { error: expected.mapping });
const isMapping = (payload: z.core.ParsePayload) => typeof payload.value === 'object' && payload.value !== null;

/** An empty YAML key (`ansible:` with every line under it commented out) means "not set", not null. */
const nullAsAbsent = <T extends z.ZodType>(schema: T) => z.preprocess((value) => value ?? undefined, schema);

/** `timer: false` for a duration that never goes into a timer (an age), which may exceed 24 days. */
function duration(options: { allowZero?: boolean; timer?: boolean } = {}) {
  return z.string({ error: expected.duration }).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) return reject(ctx, expected.duration, value);
    if (ms === 0 && !options.allowZero) return reject(ctx, 'must be longer than 0', value);
    if (options.timer !== false && ms > maxDurationMs) return reject(ctx, `must be at most ${formatDuration(maxDurationMs)}`, value);
    return ms;
  });
}

/** `10%` as 0.1: a share of an interval. */
const percent = () =>
  z.string({ error: expected.percent }).transform((value, ctx) => {
    const match = /^(\d{1,3}(?:\.\d+)?)%$/.exec(value.trim());
    const share = match ? Number(match[1]) / 100 : Number.NaN;
    if (!(share >= 0 && share <= 1)) return reject(ctx, expected.percent, value);
    return share;
  });

const timezone = () =>
  text().refine(
    (zone) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    },
    { error: expected.timezone },
  );

/** A cron expression croner can read: five fields (minute first) or six (seconds first). */
const cronExpression = () =>
  text().refine(
    (pattern) => {
      try {
        new Cron(pattern, { paused: true });
        return pattern.trim().split(/\s+/).length >= 5;
      } catch {
        return false;
      }
    },
    { error: expected.cron },
  );

/** A maintenance window: applies may start from each time the cron names until `duration` later. */
const applyWindow = () =>
  mapping({ cron: cronExpression(), duration: duration(), timezone: timezone().default('UTC') }).transform(
    ({ duration: durationMs, ...rest }) => ({ ...rest, durationMs }),
  );

const retryCount = () => z.int({ error: expected.retries }).min(0, { error: expected.retries });

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
    /** A jsonfile fact cache per target with `gathering: smart`, kept for the target's interval. */
    factCache: flag().default(true),
    /** Niceness of Ansible's processes (0–19): a busy run then leaves the daemon's API and event intake responsive. */
    nice: z.int({ error: 'must be an integer from 0 to 19' }).min(0, { error: 'must be an integer from 0 to 19' }).max(19, { error: 'must be an integer from 0 to 19' }).default(0),
  }).transform(({ controlPersist, ...rest }) => ({ ...rest, controlPersistMs: controlPersist }));
}

const retrySchema = () =>
  mapping({
    limit: retryCount().default(3),
    initialDelay: duration().prefault('1m'),
    maxDelay: duration().prefault('30m'),
  }).transform(({ initialDelay, maxDelay, ...rest }) => ({ ...rest, initialDelayMs: initialDelay, maxDelayMs: maxDelay }));

/** A target's own retry settings: each key left out comes from `reconcile.retry`. */
const retryOverrides = () =>
  mapping({ limit: retryCount().optional(), initialDelay: duration().optional(), maxDelay: duration().optional() }).transform(
    ({ limit, initialDelay, maxDelay }) => ({
      ...(limit === undefined ? {} : { limit }),
      ...(initialDelay === undefined ? {} : { initialDelayMs: initialDelay }),
      ...(maxDelay === undefined ? {} : { maxDelayMs: maxDelay }),
    }) as { limit?: number; initialDelayMs?: number; maxDelayMs?: number },
  );

const reconcileSchema = () =>
  mapping({
    mode: mode().default('detect'),
    precheck: precheck().default('auto'),
    interval: duration().prefault('15m'),
    jitter: percent().prefault('10%'),
    concurrency: count().default(2),
    timeout: duration().prefault('30m'),
    shutdownGrace: duration({ allowZero: true }).prefault('30s'),
    retry: nullAsAbsent(retrySchema().prefault({})),
    applyWindows: list(applyWindow()).default([]),
  }).transform(({ interval, timeout, shutdownGrace, ...rest }) => ({
    ...rest,
    intervalMs: interval,
    timeoutMs: timeout,
    shutdownGraceMs: shutdownGrace,
  }));

/** A run log smaller than this could not hold a useful head and tail beside the line saying what was cut. */
const minLogBytes = 4 * 1024;

/** A size in bytes (`512KB`, `50MB`, `1GB`, powers of 1024). */
const size = (min: number, minText: string) =>
  z.string({ error: expected.size }).transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined) return reject(ctx, expected.size, value);
    if (bytes < min) return reject(ctx, `must be at least ${minText}`, value);
    return bytes;
  });

const retentionSchema = () =>
  mapping({
    maxAge: duration({ timer: false }).prefault('30d'),
    maxRunsPerTarget: count().default(1000),
    maxLogSize: size(minLogBytes, '4KB').prefault('50MB'),
  }).transform(({ maxAge, maxLogSize, ...rest }) => ({ ...rest, maxAgeMs: maxAge, maxLogBytes: maxLogSize }));

/** What an API token may do: `read` the API, or also `write` (reconcile, cancel, suspend, …). */
export const tokenScopes = ['read', 'write'] as const;
export type TokenScope = (typeof tokenScopes)[number];

/** `api.timeouts` and `api.maxConnections` by default (an API built without a config uses them too). */
export const apiLimitDefaults = { timeouts: { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 5_000 }, maxConnections: 1024 } as const;

/**
 * How long a client may take: to send its headers, its whole request, and to say something on a kept-alive
 * connection. Without them a client trickling a byte every 20 s held its socket for as long as it liked.
 */
function apiTimeoutsSchema() {
  const { headersMs, requestMs, keepAliveMs } = apiLimitDefaults.timeouts;
  return mapping({
    headers: duration().prefault(formatDuration(headersMs)),
    request: duration().prefault(formatDuration(requestMs)),
    keepAlive: duration().prefault(formatDuration(keepAliveMs)),
  })
    .superRefine((timeouts, ctx) => {
      // Node refuses a server whose headers may take longer than the whole request. (Runs only when both parsed.)
      if (timeouts.headers <= timeouts.request) return;
      ctx.issues.push({ code: 'custom', path: ['headers'], input: formatDuration(timeouts.headers), message: `must be at most api.timeouts.request (${formatDuration(timeouts.request)})` });
    })
    .transform(({ headers, request, keepAlive }) => ({ headersMs: headers, requestMs: request, keepAliveMs: keepAlive }));
}

/** `*`, a bracketed IPv6 address, or a DNS name / IPv4 address (labels of letters, digits and inner hyphens). */
const allowedHostPattern = /^(?:\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?)$/;

function apiSchema(configDir: string) {
  const file = hostFile(configDir);
  return mapping({
    listen: listen().prefault('127.0.0.1:9110'),
    tokenFile: file.optional(),
    tokens: list(
      mapping({
        name: text().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, { error: 'must be a token name: letters, digits and _ . @ -' }),
        file,
        scope: z.enum(tokenScopes, { error: `must be one of ${tokenScopes.join(', ')}` }),
      }),
    ).default([]),
    requireReadToken: flag().default(false),
    publicUrl: z.url({ error: 'must be an http(s) URL like https://fleetcd.example.com' }).optional(),
    /** Host names the API answers to besides the defaults (src/api/hosts.ts); `*`: any. */
    allowedHosts: list(z.string({ error: expected.allowedHost }).regex(allowedHostPattern, { error: expected.allowedHost })).optional(),
    tls: mapping({ certFile: file, keyFile: file }).optional(),
    timeouts: nullAsAbsent(apiTimeoutsSchema().prefault({})),
    /** Open connections beyond this are dropped at once: 200 slow clients must not take the daemon's file descriptors. */
    maxConnections: count().default(apiLimitDefaults.maxConnections),
  })
    .superRefine(
      (api, ctx) => {
        const names = new Set<string>();
        api.tokens.forEach((token, i) => {
          if (names.has(token.name) || token.name === 'api') {
            ctx.issues.push({ code: 'custom', path: ['tokens', i, 'name'], input: token.name, message: 'must be unique (and not "api", the name of tokenFile)' });
          }
          names.add(token.name);
        });
      },
      { when: isMapping },
    )
    .transform(({ listen: { host, port }, ...rest }) => ({ host, port, ...rest }));
}

/** Events a notification can be sent for: changes of a target's state, applies, and the source starting to fail. */
export const notificationEvents = ['drift', 'failed', 'recovered', 'applied', 'source-error'] as const;
export type NotificationEvent = (typeof notificationEvents)[number];

function notificationSchema(configDir: string) {
  return mapping({
    name: text(),
    url: z.url({ error: 'must be an http(s) URL' }),
    events: list(z.enum(notificationEvents, { error: `must be one of ${notificationEvents.join(', ')}` })).min(1, {
      error: 'must name at least one event',
    }),
    format: z.enum(['json', 'slack'], { error: 'must be json or slack' }).default('json'),
    /** A file holding `Header-Name: value`, sent with every delivery (a receiver's secret). */
    secretHeaderFile: hostFile(configDir).optional(),
  });
}

/**
 * A policy gate: a program run in a revision's checkout (no shell) before any apply of it; a failure holds the
 * revision's applies. `command` is the argument vector.
 */
const gateSchema = () =>
  mapping({
    name: text(),
    command: list(text()).min(1, { error: 'must list the program and its arguments' }),
    timeout: duration().prefault('5m'),
  }).transform(({ timeout, ...rest }) => ({ ...rest, timeoutMs: timeout }));

export const forgeTypes = ['github', 'gitlab', 'gitea'] as const;

/** Previews of pull requests (off by default: a preview runs the branch's code with the fleet's secrets). */
function previewsSchema(configDir: string) {
  return mapping({
    fromWebhooks: flag().default(false),
    comment: flag().default(false),
    forge: mapping({
      type: z.enum(forgeTypes, { error: `must be one of ${forgeTypes.join(', ')}` }),
      url: z.url({ error: 'must be the forge API base URL, like https://api.github.com' }),
      tokenFile: hostFile(configDir),
    }).optional(),
  });
}

const varName = () => z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: expected.varName });

function targetSchema(configDir: string) {
  return mapping({
    mode: mode().optional(),
    precheck: precheck().optional(),
    playbook: repoPath().optional(),
    limit: text().optional(),
    tags: list(text()).optional(),
    skipTags: list(text()).optional(),
    extraVars: z.record(varName(), z.unknown(), { error: expected.mapping }).optional(),
    secretVars: z.record(varName(), hostFile(configDir), { error: expected.mapping }).optional(),
    forks: count().optional(),
    timeout: duration().optional(),
    become: flag().optional(),
    interval: duration().optional(),
    jitter: percent().optional(),
    retry: retryOverrides().optional(),
    applyWindows: list(applyWindow()).optional(),
    dependsOn: list(targetName()).optional(),
    soak: duration({ allowZero: true }).optional(),
    gates: list(gateSchema()).optional(),
  }).transform(
    ({ timeout, interval, soak, ...rest }) =>
      ({
        ...rest,
        ...(timeout === undefined ? {} : { timeoutMs: timeout }),
        ...(interval === undefined ? {} : { intervalMs: interval }),
        ...(soak === undefined ? {} : { soakMs: soak }),
      }) as typeof rest & { timeoutMs?: number; intervalMs?: number; soakMs?: number },
  );
}

const targetName = () => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: expected.targetName });

/** The first dependency cycle among the targets, as names in order with the first repeated (a → b → a). */
export function dependencyCycle(targets: Record<string, { dependsOn?: readonly string[] }>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const next of targets[name]?.dependsOn ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const name of Object.keys(targets).sort()) {
    const cycle = visit(name);
    if (cycle) return cycle;
  }
  return undefined;
}

/** Per-target settings from `targets.<name>`; each one left out falls back to the global setting. */
export type TargetOverrides = z.output<ReturnType<typeof targetSchema>>;

/**
 * The schema of one config file. It is built per file because relative paths are resolved against that
 * file's folder while parsing, so the output is already the Config (apart from freezing).
 */
export function configSchema(file: string) {
  const configDir = path.dirname(path.resolve(file));
  return mapping({
    repository: nullAsAbsent(repositorySchema(configDir)),
    stateDir: text()
      .transform((dir) => path.resolve(configDir, dir))
      .default('/var/lib/fleetcd'),
    api: nullAsAbsent(apiSchema(configDir).prefault({})),
    notifications: nullAsAbsent(list(notificationSchema(configDir)).default([])).superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((notification, i) => {
        if (seen.has(notification.name)) ctx.issues.push({ code: 'custom', path: [i, 'name'], input: notification.name, message: 'must be unique among the notifications' });
        seen.add(notification.name);
      });
    }),
    ansible: nullAsAbsent(ansibleSchema(configDir).prefault({})),
    reconcile: nullAsAbsent(reconcileSchema().prefault({})),
    targets: nullAsAbsent(
      z
        .record(targetName(), nullAsAbsent(targetSchema(configDir).prefault({})), { error: expected.mapping })
        .default({})
        .superRefine((targets, ctx) => {
          const cycle = dependencyCycle(targets);
          if (!cycle) return;
          ctx.issues.push({
            code: 'custom',
            path: [cycle[0]!, 'dependsOn'],
            input: undefined,
            message: `forms a dependency cycle: ${cycle.join(' → ')}`,
          });
        }),
    ),
    retention: nullAsAbsent(retentionSchema().prefault({})),
    gates: nullAsAbsent(list(gateSchema()).default([])),
    previews: nullAsAbsent(previewsSchema(configDir).prefault({})),
  }).transform((parsed) => ({ file: path.resolve(file), configDir, ...parsed }));
}

/**
 * The validated config, as the schema produces it: defaults filled in, durations in milliseconds, host file
 * paths absolute (relative ones are taken from the config file's folder, so the daemon's working directory
 * does not matter). The loader deep-freezes it, so no part of the daemon can change what another part reads.
 */
export type Config = z.output<ReturnType<typeof configSchema>>;
