import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The child's descriptor that carries the daemon's end of the watchdog socket. Spawned as `'pipe'`, it is a
 * socket pair whose daemon end is close-on-exec (libuv opens it so): no other child of the daemon inherits it,
 * so it closes when the daemon's process ends, however it ends (kill -9, OOM killer, a crash).
 */
export const watchdogFd = 4;

/**
 * Started first in the child's process group, before the program itself: a background `sh` that reads the
 * socket until end of file, which comes only once the daemon is gone (the daemon never writes to it nor
 * closes it while the group lives), and then SIGKILLs its own process group. It holds nothing else of the
 * program's: output to /dev/null, fd 3 (a run's events) closed, so no reader waits on it. It ignores the
 * SIGTERM of a stop, so the grace before the SIGKILL is covered too (a background job of a non-interactive
 * sh already ignores SIGINT and SIGQUIT). The program is
 * then exec'd in the leader's place (same pid, start time, argv, exit status as a direct spawn) with the
 * socket closed, so nothing it starts holds it. On a normal end the daemon SIGKILLs the group, watchdog
 * included (GroupSupervisor.end). Its own `sh -c` names it, so it never matches a search for the program.
 * The script is fixed; the program's arguments are positional parameters, never parsed by the shell.
 */
const script = [
  `/bin/sh -c 'trap "" TERM; while read -r _; do :; done; kill -KILL 0' fleetcd-watchdog <&${watchdogFd} >/dev/null 2>&1 3>&- ${watchdogFd}<&- &`,
  `exec "$@" ${watchdogFd}<&-`,
].join('\n');

/**
 * The command that runs `program args` with the watchdog in its group, to be spawned `detached` with
 * `'pipe'` at stdio index `watchdogFd`. A program that cannot be found or run is returned as is, without
 * the watchdog: spawning it fails exactly as before (the same error and message), and nothing is left
 * running to guard.
 */
export function watchedCommand(program: string, args: readonly string[], path: string | undefined, cwd: string): { file: string; args: string[] } {
  if (!findExecutable(program, path, cwd)) return { file: program, args: [...args] };
  return { file: '/bin/sh', args: ['-c', script, 'fleetcd-run', program, ...args] };
}

/** Where execvp(3) would find `program` (a name searched on `path`, or a path from `cwd`); null when nowhere. */
export function findExecutable(program: string, path: string | undefined, cwd: string): string | null {
  if (program.includes('/')) return executable(isAbsolute(program) ? program : resolve(cwd, program));
  // An empty entry of PATH is the current directory.
  for (const dir of (path ?? '/usr/bin:/bin').split(':')) {
    const found = executable(join(dir ? resolve(cwd, dir) : cwd, program));
    if (found) return found;
  }
  return null;
}

function executable(file: string): string | null {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}
