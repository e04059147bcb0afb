import type { Command } from 'commander';
import { configPath, loadConfig, readSecretFile, type Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import { ApiClient } from './client.js';
import type { Look } from './render/run.js';
import { styleFor } from './render/style.js';

/** The options every verb accepts (before or after the verb). */
export type GlobalOptions = { config?: string; server?: string; api?: string; tokenFile?: string };

/** A token and where it came from, so a refusal can say which one the daemon refused. */
type FoundToken = { value: string; from: string };

/**
 * What a verb needs from its surroundings, each part read only when the verb asks for it: the config (so
 * `--server` with no token needed works without one), the daemon's address and token, the output streams.
 */
export class Cli {
  private loaded: Config | undefined;

  constructor(
    private readonly options: GlobalOptions,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** --config, else $FLEETCD_CONFIG, else /etc/fleetcd/fleetcd.yaml. */
  get configFile(): string {
    return configPath(this.options.config, this.env);
  }

  /** The config, loaded once; a ConfigError names the file, the key and the problem. */
  config(): Config {
    this.loaded ??= loadConfig(this.configFile);
    return this.loaded;
  }

  /** The daemon: --server (or --api), else $FLEETCD_SERVER (or $FLEETCD_API), else the config's api.listen. */
  server(): string {
    const explicit = this.explicitServer();
    if (explicit) return explicit.replace(/\/+$/, '');
    const { host, port } = this.config().api;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /**
   * A client of the daemon. Every verb sends the token when it finds one (--token-file, else $FLEETCD_TOKEN,
   * else the config's api.tokenFile): a daemon with api.requireReadToken wants it for reads too. A `write`
   * verb without one fails before asking; a read asks without, and a 401 then says where a token would come from.
   */
  client(write = false): ApiClient {
    const found = write ? { token: this.token() } : this.readToken();
    const hint = found.token
      ? `the daemon refused the token from ${found.token.from}`
      : 'this daemon wants a token to read (api.requireReadToken): pass --token-file <file>, set $FLEETCD_TOKEN, or set api.tokenFile ' +
        `in the config${found.problem ? ` (${found.problem})` : ''}`;
    return new ApiClient(this.server(), found.token?.value, hint);
  }

  /** How output looks now: colour only on a terminal without NO_COLOR. */
  look(stream: { isTTY?: boolean } = process.stdout): Look {
    return { style: styleFor(stream, this.env), now: new Date() };
  }

  print(text: string): void {
    process.stdout.write(`${text}\n`);
  }

  printJson(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }

  /** A remark for the person, not the output: stderr, so pipes and --json stay clean. */
  note(text: string): void {
    process.stderr.write(`fleetcd: ${text}\n`);
  }

  private explicitServer(): string | undefined {
    return this.options.server ?? this.options.api ?? (this.env.FLEETCD_SERVER || undefined) ?? (this.env.FLEETCD_API || undefined);
  }

  private token(): FoundToken {
    const given = this.givenToken();
    if (given) return given;
    let config: Config;
    try {
      config = this.config();
    } catch (error) {
      throw new FleetError('config', `this verb needs the API token: pass --token-file, set $FLEETCD_TOKEN, or api.tokenFile in a readable config (${messageOf(error)})`, {
        cause: error,
      });
    }
    if (!config.api.tokenFile) {
      throw new FleetError('config', `this verb needs the API token: pass --token-file, set $FLEETCD_TOKEN, or api.tokenFile in ${config.file}`);
    }
    return { value: readSecretFile(config.api.tokenFile, 'api.tokenFile'), from: `api.tokenFile (${config.api.tokenFile})` };
  }

  /**
   * The token a read sends: the same sources, but a config that cannot be read, names no token file, or whose
   * token file this user may not read means none (reads worked without one before api.requireReadToken, as for a
   * user who may read the config but not the root-only token); the problem goes into the 401's message.
   */
  private readToken(): { token?: FoundToken; problem?: string } {
    const given = this.givenToken();
    if (given) return { token: given };
    try {
      const { tokenFile } = this.config().api;
      return tokenFile ? { token: { value: readSecretFile(tokenFile, 'api.tokenFile'), from: `api.tokenFile (${tokenFile})` } } : {};
    } catch (error) {
      return { problem: messageOf(error) };
    }
  }

  /** --token-file, else $FLEETCD_TOKEN: what the person gave for this call, before any config. */
  private givenToken(): FoundToken | undefined {
    if (this.options.tokenFile) return { value: readSecretFile(this.options.tokenFile, '--token-file'), from: `--token-file (${this.options.tokenFile})` };
    if (this.env.FLEETCD_TOKEN) return { value: this.env.FLEETCD_TOKEN.trim(), from: '$FLEETCD_TOKEN' };
    return undefined;
  }
}

/**
 * A verb's action for commander: builds its Cli from the global options and makes the number the action
 * resolves to the process's exit code. Commander passes the arguments, the verb's options, then the command.
 */
export function verb<A extends unknown[]>(action: (cli: Cli, ...args: A) => Promise<number>): (...args: unknown[]) => Promise<void> {
  return async (...args: unknown[]) => {
    const command = args.at(-1) as Command;
    const cli = new Cli(command.optsWithGlobals<GlobalOptions>());
    process.exitCode = await action(cli, ...(args.slice(0, -1) as A));
  };
}
