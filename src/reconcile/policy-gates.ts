import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { GateResult, GateResults } from '../store/previews.js';
import { abortable } from './abortable.js';

/** A policy gate as configured: a program run in the revision's checkout before any apply of it. */
export type GateSpec = { name: string; command: readonly string[]; timeoutMs: number };

/**
 * Policy gates (a linter, a syntax check) run once per revision and command: the result is kept with the
 * revision in the record, and concurrent askers share one run. A failed gate holds every apply of that revision.
 */
export class PolicyGates {
  private readonly running = new Map<string, Promise<GateResult>>();

  constructor(
    private readonly deps: { results: GateResults; runner: () => Runner; log: Logger },
  ) {}

  /** The results of these gates at a revision, running the ones not run yet. */
  check(revision: Revision, gates: readonly GateSpec[], signal: AbortSignal): Promise<GateResult[]> {
    return abortable(Promise.all(gates.map((gate) => this.result(revision, gate))), signal);
  }

  /** Every gate result kept for a revision: what ran there, even if the config has changed since. */
  at(sha: string): GateResult[] {
    return this.deps.results.at(sha);
  }

  private result(revision: Revision, gate: GateSpec): Promise<GateResult> {
    const known = this.deps.results.get(revision.sha, gate.name, gate.command);
    if (known) return Promise.resolve(known);
    const key = `${revision.sha}\n${gate.name}\n${JSON.stringify(gate.command)}`;
    let running = this.running.get(key);
    if (!running) {
      running = this.run(revision, gate).finally(() => this.running.delete(key));
      this.running.set(key, running);
    }
    return running;
  }

  private async run(revision: Revision, gate: GateSpec): Promise<GateResult> {
    const ranAt = new Date().toISOString();
    let result: GateResult;
    try {
      const outcome = await this.deps.runner().runGate(revision.root, gate.command, gate.timeoutMs);
      const output = outcome.timedOut ? `timed out after ${Math.round(gate.timeoutMs / 1000)}s\n${outcome.output}`.trim() : outcome.output;
      result = { gate: gate.name, command: [...gate.command], ok: outcome.exitCode === 0 && !outcome.timedOut, exitCode: outcome.exitCode, output, ranAt };
    } catch (error) {
      result = { gate: gate.name, command: [...gate.command], ok: false, exitCode: null, output: messageOf(error), ranAt };
    }
    this.deps.results.record(revision.sha, result);
    this.deps.log[result.ok ? 'info' : 'warn']({ sha: revision.sha, gate: gate.name, exitCode: result.exitCode }, result.ok ? 'gate passed' : 'gate failed');
    return result;
  }
}

/** The first failed gate in one sentence: its name, exit code and last lines of output. */
export function gateFailure(results: readonly GateResult[]): string | undefined {
  const failed = results.find((result) => !result.ok);
  if (!failed) return undefined;
  const lines = failed.output.split('\n').filter(Boolean).slice(-3).join(' | ');
  const code = failed.exitCode === null ? 'did not run to an exit code' : `exit ${failed.exitCode}`;
  return `gate ${failed.gate} failed (${code})${lines ? `: ${lines}` : ''}`;
}
