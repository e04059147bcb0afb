import { execa } from 'execa';
import { GroupSupervisor } from './process-group.js';
import { neverStarted, spawnFailure } from './spawn-error.js';
import { watchedCommand } from './watchdog.js';

/** What a policy gate's program did: its exit code, and the last lines it printed. */
export type GateOutcome = { exitCode: number | null; output: string; timedOut: boolean; cancelled: boolean };

const tailBytes = 8192;
const tailLines = 20;

/**
 * Runs a policy gate's argument vector in a revision's checkout, without a shell, with the environment
 * Ansible gets (its allow-list). Output is read as a stream and only its tail kept, whatever a linter prints.
 * The gate runs in its own process group, stopped whole on timeout and abort (SIGTERM, SIGKILL after
 * `killGraceMs`), as a run's is: a linter's children would otherwise hold its output open past both. Its
 * group has the watchdog too (watchdog.ts): it dies with the daemon.
 */
export async function runGateProgram(
  cwd: string,
  command: readonly string[],
  env: Record<string, string>,
  timing: { timeoutMs: number; killGraceMs: number },
  signal?: AbortSignal,
): Promise<GateOutcome> {
  const [program, ...args] = command;
  if (!program) return { exitCode: null, output: 'the gate has no command', timedOut: false, cancelled: false };
  const watched = watchedCommand(program, args, env.PATH, cwd);
  const child = execa(watched.file, watched.args, {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    buffer: false,
    all: true,
    // fd 4: the watchdog's socket (fd 3 is not opened, as before).
    stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'pipe'],
    detached: true,
    cleanup: false,
  });
  const group = new GroupSupervisor(child.pid, { ...timing, signal });
  // Once the gate itself has exited, what it left running in its group (a backgrounded child still holding
  // the output pipe, the watchdog holding its socket) has nothing to wait for.
  child.once('exit', () => group.end());
  let tail = '';
  child.all?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-tailBytes);
  });
  const result = await child;
  group.end();
  if (neverStarted(result)) return { exitCode: null, output: spawnFailure(program, result, env, cwd), timedOut: false, cancelled: false };
  const output = tail.trim().split('\n').slice(-tailLines).join('\n');
  return { exitCode: result.exitCode ?? null, output, timedOut: group.timedOut, cancelled: group.cancelled };
}
