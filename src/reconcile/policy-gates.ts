import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { GateResult, GateResults } from '../store/previews.js';
import { Aborted, abortable } from './abortable.js';

/** A policy gate as configured: a program run in the revision's checkout before any apply of it. */
export type GateSpec = { name: string; command: readonly string[]; timeoutMs: number };

/**
 * Policy gates (a linter, a syntax check) run once per revision and command: the result is kept with the
 * revision in the record, and concurrent askers share one run. A failed gate holds every apply of that revision.
 */
export class PolicyGates {
  private readonly running = new Map<string, SharedGate>();

  constructor(
    private readonly deps: { results: GateResults; runner: () => Runner; log: Logger },
  ) {}

  /**
   * The results of these gates at a revision, running the ones not run yet. When `signal` aborts, this asker
   * stops waiting; a gate that no asker waits for any more is stopped, its process group with it.
   */
  check(revision: Revision, gates: readonly GateSpec[], signal: AbortSignal): Promise<GateResult[]> {
    if (signal.aborted) return Promise.reject(new Aborted(signal.reason));
    return abortable(Promise.all(gates.map((gate) => this.result(revision, gate, signal))), signal);
  }

  /** Every gate result kept for a revision: what ran there, even if the config has changed since. */
  at(sha: string): GateResult[] {
    return this.deps.results.at(sha);
  }

  /** Shutdown: every gate still running is stopped (gates get no grace), and waited for. */
  async stop(): Promise<void> {
    const going = [...this.running.values()];
    for (const shared of going) shared.controller.abort('shutdown');
    await Promise.all(going.map((shared) => shared.done.catch(() => undefined)));
  }

  private result(revision: Revision, gate: GateSpec, signal: AbortSignal): Promise<GateResult> {
    const known = this.deps.results.get(revision.sha, gate.name, gate.command);
    if (known) return Promise.resolve(known);
    const key = `${revision.sha}\n${gate.name}\n${JSON.stringify(gate.command)}`;
    let shared = this.running.get(key);
    if (!shared) {
      const controller = new AbortController();
      const done = this.run(revision, gate, controller.signal).finally(() => this.running.delete(key));
      shared = { controller, askers: 0, done };
      this.running.set(key, shared);
    }
    join(shared, signal);
    return shared.done;
  }

  private async run(revision: Revision, gate: GateSpec, signal: AbortSignal): Promise<GateResult> {
    const ranAt = new Date().toISOString();
    let result: GateResult;
    try {
      const outcome = await this.deps.runner().runGate(revision.root, gate.command, gate.timeoutMs, signal);
      // A stopped gate said nothing about the revision: nothing is kept, the next asker runs it again.
      if (outcome.cancelled) throw new Aborted(signal.reason);
      const output = outcome.timedOut ? `timed out after ${Math.round(gate.timeoutMs / 1000)}s\n${outcome.output}`.trim() : outcome.output;
      result = { gate: gate.name, command: [...gate.command], ok: outcome.exitCode === 0 && !outcome.timedOut, exitCode: outcome.exitCode, output, ranAt };
    } catch (error) {
      if (error instanceof Aborted) throw error;
      result = { gate: gate.name, command: [...gate.command], ok: false, exitCode: null, output: messageOf(error), ranAt };
    }
    this.deps.results.record(revision.sha, result);
    this.deps.log[result.ok ? 'info' : 'warn']({ sha: revision.sha, gate: gate.name, exitCode: result.exitCode }, result.ok ? 'gate passed' : 'gate failed');
    return result;
  }
}

/** One gate run and the askers waiting for it: the last asker to give up stops it. */
type SharedGate = { controller: AbortController; askers: number; done: Promise<GateResult> };

function join(shared: SharedGate, signal: AbortSignal): void {
  if (signal.aborted) return;
  shared.askers += 1;
  const leave = (): void => {
    shared.askers -= 1;
    if (shared.askers === 0) shared.controller.abort(signal.reason);
  };
  signal.addEventListener('abort', leave, { once: true });
  void shared.done.finally(() => signal.removeEventListener('abort', leave)).catch(() => undefined);
}

/** The first failed gate in one sentence: its name, exit code and last lines of output. */
export function gateFailure(results: readonly GateResult[]): string | undefined {
  const failed = results.find((result) => !result.ok);
  if (!failed) return undefined;
  const lines = failed.output.split('\n').filter(Boolean).slice(-3).join(' | ');
  const code = failed.exitCode === null ? 'did not run to an exit code' : `exit ${failed.exitCode}`;
  return `gate ${failed.gate} failed (${code})${lines ? `: ${lines}` : ''}`;
}
