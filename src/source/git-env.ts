import type { Config } from '../config/index.js';
import { shellQuote, sshOptionPath, sshPath } from '../ssh-words.js';

type Repository = Config['repository'];

/**
 * simple-git refuses, by default, to pass GIT_SSH_COMMAND, GIT_CONFIG_COUNT and a `credential.helper` to git,
 * because a caller could smuggle a command into them. We need exactly these three, and every value in them is
 * built here from the config file (paths, yes/no), never from a fetched commit or an HTTP request; every other
 * unsafe category stays blocked.
 */
export const allowedUnsafe = {
  allowUnsafeSshCommand: true,
  allowUnsafeConfigEnvCount: true,
  allowUnsafeCredentialHelper: true,
} as const;

/** The username sent with `repository.tokenFile`: GitHub wants it, GitLab and Gitea accept any name. */
export const tokenUsername = 'x-access-token';

/**
 * The whole environment of every git process the source starts: an allow-list of the daemon's variables (so
 * a stray GIT_DIR or GIT_SSH never reaches git), messages in English (errors are matched and shown), no
 * prompts, ssh built from the config, and config entries passed through GIT_CONFIG_COUNT rather than argv.
 * Secrets never appear here: only the paths of the files holding them.
 */
export function gitEnv(repo: Repository, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
  for (const key of ['PATH', 'HOME', 'SSH_AUTH_SOCK', 'http_proxy', 'https_proxy', 'no_proxy', 'HTTPS_PROXY', 'NO_PROXY']) {
    const value = base[key];
    if (value !== undefined) env[key] = value;
  }
  env.GIT_SSH_COMMAND = sshCommand(repo);
  return { ...env, ...configEnv(gitConfigEntries(repo)) };
}

/**
 * `GIT_SSH_COMMAND`: git hands it to `sh -c`, so each word is quoted for the shell here, and ssh itself parses
 * `-o` values (quotes, `%` tokens), so paths are quoted for ssh too. No shell of ours is involved.
 */
export function sshCommand(repo: Repository): string {
  const words = ['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=30'];
  if (repo.sshKeyFile) words.push('-i', sshPath(repo.sshKeyFile, 'repository.sshKeyFile'), '-o', 'IdentitiesOnly=yes');
  if (repo.knownHostsFile) {
    words.push('-o', `UserKnownHostsFile=${sshOptionPath(repo.knownHostsFile, 'repository.knownHostsFile')}`);
  }
  words.push('-o', `StrictHostKeyChecking=${repo.strictHostKeyChecking ? 'yes' : 'no'}`);
  return words.map(shellQuote).join(' ');
}

/**
 * Config for every git command: the user's credential helpers are reset (the daemon must not pop up or use a
 * desktop keyring), then ours is added when the config names credential files; slow transfers are abandoned.
 */
export function gitConfigEntries(repo: Repository): Array<[string, string]> {
  const entries: Array<[string, string]> = [
    ['credential.helper', ''],
    ['http.lowSpeedLimit', '1000'],
    ['http.lowSpeedTime', '60'],
  ];
  const helper = credentialHelper(repo);
  if (helper) entries.push(['credential.helper', helper]);
  return entries;
}

/**
 * A git credential helper (run by git through `sh`) that reads the secret from its file at the moment git asks
 * for it, with `read`, a shell builtin: the secret is never in an argv, an environment, a URL or a log line,
 * only in git's memory and the pipe between the two. `read` trims surrounding blanks, as every secret file is.
 */
export function credentialHelper(repo: Repository): string | undefined {
  const readLine = (name: string, file: string): string =>
    `{ read -r ${name} < ${shellQuote(file)} || test -n "$${name}"; } || return 1;`;
  let body: string;
  if (repo.tokenFile) {
    body = `u=${tokenUsername}; ${readLine('p', repo.tokenFile)}`;
  } else if (repo.usernameFile && repo.passwordFile) {
    body = `${readLine('u', repo.usernameFile)} ${readLine('p', repo.passwordFile)}`;
  } else {
    return undefined;
  }
  // Drain git's request first (a builtin loop, no extra process) so git never writes into a closed pipe.
  return `!f() { while read -r _; do :; done; test "$1" = get || return 0; ${body} printf 'username=%s\\npassword=%s\\n' "$u" "$p"; }; f`;
}

/** GIT_CONFIG_COUNT/KEY_n/VALUE_n: config git reads as if given with -c, but invisible to `ps`. */
export function configEnv(entries: ReadonlyArray<readonly [string, string]>): Record<string, string> {
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}
