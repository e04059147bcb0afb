import { execa } from 'execa';
import { neverStarted, spawnFailure } from './spawn-error.js';

/** What a policy gate's program did: its exit code, and the last lines it printed. */
export type GateOutcome = { exitCode: number | null; output: string; timedOut: boolean };

const tailBytes = 8192;
const tailLines = 20;

/**
 * Runs a policy gate's argument vector in a revision's checkout, without a shell, with the environment
 * Ansible gets (its allow-list). Output is read as a stream and only its tail kept, whatever a linter prints.
 */
export async function runGateProgram(
  cwd: string,
  command: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<GateOutcome> {
  const [program, ...args] = command;
  if (!program) return { exitCode: null, output: 'the gate has no command', timedOut: false };
  const child = execa(program, args, {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    buffer: false,
    all: true,
    stdin: 'ignore',
    timeout: timeoutMs,
    cancelSignal: signal,
    forceKillAfterDelay: 5000,
  });
  let tail = '';
  child.all?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-tailBytes);
  });
  const result = await child;
  if (neverStarted(result)) return { exitCode: null, output: spawnFailure(program, result, env, cwd), timedOut: false };
  const output = tail.trim().split('\n').slice(-tailLines).join('\n');
  return { exitCode: result.exitCode ?? null, output, timedOut: result.timedOut };
}
