/** Node's spawn error codes as a person would say them. */
const reasons: Record<string, string> = {
  ENOENT: 'not found on PATH',
  EACCES: 'not executable (permission denied)',
  ENOEXEC: 'not an executable file',
  EMFILE: 'too many open files in fleetcd',
  ENOMEM: 'out of memory',
};

/**
 * Why `command` could not be started, from execa's result of a spawn that never ran (no pid): names the
 * command and what the OS said, e.g. "ansible-playbook: not found on PATH (/usr/bin:/bin)".
 */
export function spawnFailure(command: string, result: { code?: string; originalMessage?: string }, env: { PATH?: string }, cwd?: string): string {
  const message = result.originalMessage ?? '';
  if (cwd && /"cwd" option is invalid/.test(message)) return `${command}: cannot start in ${cwd}: no such directory`;
  const code = result.code ?? '';
  const reason = reasons[code];
  if (code === 'ENOENT') return `${command}: ${reason} (${env.PATH ?? 'PATH is not set'})`;
  return `${command}: ${reason ?? `cannot start: ${message.split('\n').at(-1) || code || 'unknown error'}`}`;
}

/** True for an execa result of a process that never started (spawn itself failed): no exit code, no signal. */
export function neverStarted(result: { failed: boolean; exitCode?: number; signal?: string; code?: string }): boolean {
  return result.failed && result.exitCode === undefined && result.signal === undefined && result.code !== undefined;
}
