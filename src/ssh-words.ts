import { ConfigError } from './errors.js';

/**
 * Quoting for the two places fleetcd hands ssh options to another program: git's GIT_SSH_COMMAND (run by `sh`)
 * and Ansible's ANSIBLE_SSH_ARGS (split by Python's shlex, which reads POSIX shell quoting).
 */

/** One word for `sh` or shlex: left bare when it is plainly safe, else single-quoted. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_\-.,:/=@+%]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** ssh expands `%x` tokens (and a leading `~`) in key and known_hosts paths; ours are absolute and literal. */
export function sshPath(path: string, key: string): string {
  if (/[\n\r]/.test(path)) throw new ConfigError(`${key}: must not contain a line break, got ${JSON.stringify(path)}`);
  return path.replace(/%/g, '%%');
}

/** An `-o` value is split on blanks by ssh unless double-quoted; a `"` inside cannot be expressed. */
export function sshOptionPath(path: string, key: string): string {
  const literal = sshPath(path, key);
  if (literal.includes('"')) throw new ConfigError(`${key}: ssh cannot read a path containing ", got ${JSON.stringify(path)}`);
  return /\s/.test(literal) ? `"${literal}"` : literal;
}
