import { mkdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Config } from '../config/index.js';
import { readSecretFile } from '../config/index.js';
import { messageOf } from '../errors.js';
import { FatalError, withRun } from '../fatal.js';
import type { Logger } from '../log.js';
import {
  toHostRecaps,
  toTaskResult,
  type AnsibleEvent,
  type InstalledRequirements,
  type Runner,
} from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { HostRecap, RunResult, TaskResult } from '../store/types.js';
import { writeRunRecord } from './record-writes.js';
import { runErrorOf, runStatusOf } from './status.js';
import { TaskWriter } from './task-writer.js';
import type { Target } from './targets.js';

export type RunContext = {
  config: Config;
  store: RunStore;
  runner: Runner;
  log: Logger;
};

/** Where a run's plain Ansible output is kept. */
export function runLogFile(stateDir: string, runId: number): string {
  return join(stateDir, 'logs', `run-${runId}.log`);
}

export type RunToExecute = {
  id: number;
  target: Target;
  revision: Revision;
  check: boolean;
  limit?: string;
  signal?: AbortSignal;
  requirements?: InstalledRequirements;
};

/**
 * Executes one recorded run: marks it running, streams each task result into the store as it arrives, and
 * returns how it ended. It never writes the final state (the pipeline does, in one place) and never throws:
 * whatever goes wrong is the result.
 */
export function executeRun(ctx: RunContext, run: RunToExecute): Promise<RunResult> {
  // Whatever goes wrong in the run's callbacks is reported with the run (crash.ts reads it).
  return withRun({ runId: run.id, target: run.target.name }, () => execute(ctx, run));
}

async function execute(ctx: RunContext, run: RunToExecute): Promise<RunResult> {
  const { store, config } = ctx;
  const { target, revision } = run;
  writeRunRecord(run.id, 'mark it running', () => store.start(run.id, revision.sha, run.limit ?? target.overrides.limit ?? null));
  if (target.problem || !target.inventory) {
    return { status: 'failed', exitCode: null, error: target.problem ?? 'no inventory', hosts: new Map() };
  }
  const tally = new Map<string, HostRecap>();
  let stats: Map<string, HostRecap> | undefined;
  // Tasks with check_mode: false really run during a check; their results are not predictions.
  const realTasks = new Set<string>();
  const tasks = new TaskWriter(store, run.id, ctx.log);
  const onEvent = (event: AnsibleEvent): void => {
    if (event.event === 'stats') {
      stats = toHostRecaps(event);
      return;
    }
    if (event.event === 'task_start') {
      if (run.check && event.check_mode === false) realTasks.add(event.uuid);
      return;
    }
    const result = toTaskResult(event, run.check, realTasks);
    if (!result) return;
    tasks.add(result);
    countInto(tally, result);
  };
  // A line that fits no event is skipped and counted; the first of a run is logged, the rest only counted.
  let malformedEvents = 0;
  const onMalformedEvent = (head: string): void => {
    malformedEvents += 1;
    if (malformedEvents === 1) ctx.log.warn({ runId: run.id, target: target.name, line: head }, 'a malformed line on the event pipe was skipped (further ones in this run are only counted)');
  };
  const timeoutMs = target.overrides.timeoutMs ?? config.reconcile.timeoutMs;
  const logFile = runLogFile(config.stateDir, run.id);
  try {
    mkdirSync(dirname(logFile), { recursive: true, mode: 0o750 });
    const outcome = await ctx.runner.run(
      {
        cwd: revision.root,
        inventory: target.inventory,
        playbook: target.playbook,
        check: run.check,
        limit: run.limit ?? target.overrides.limit,
        tags: target.overrides.tags,
        skipTags: target.overrides.skipTags,
        forks: target.overrides.forks,
        become: target.overrides.become,
        extraVars: target.overrides.extraVars,
        vaultPasswordFile: config.ansible.vaultPasswordFile,
        vaultIds: config.ansible.vaultIds,
        privateKeyFile: config.ansible.sshKeyFile,
      },
      {
        group: target.name,
        logFile,
        maxLogBytes: config.retention.maxLogBytes,
        timeoutMs,
        signal: run.signal,
        secretVars: readSecretVars(target),
        requirements: run.requirements,
        factCacheTimeoutMs: target.policy.intervalMs,
        onSpawn: (pgid, startTicks) => writeRunRecord(run.id, 'record its process group', () => store.recordProcess(run.id, pgid, startTicks)),
        onEvent,
        onMalformedEvent,
      },
    );
    const end = { outcome, abortReason: run.signal?.reason, recapHosts: stats?.size };
    const status = runStatusOf(end);
    const error = runErrorOf(end, status, timeoutMs, relative(revision.root, target.inventory));
    return { status, exitCode: outcome.exitCode, error, hosts: stats ?? tally, warnings: outcome.warnings, malformedEvents };
  } catch (error) {
    if (error instanceof FatalError) throw error;
    ctx.log.error({ runId: run.id, target: target.name, err: messageOf(error) }, 'run could not execute');
    return { status: 'failed', exitCode: null, error: messageOf(error), hosts: stats ?? tally, malformedEvents };
  } finally {
    // Every result is on record before the run's end is.
    tasks.flush();
  }
}

function readSecretVars(target: Target): Record<string, string> | undefined {
  const files = target.overrides.secretVars;
  if (!files) return undefined;
  const values: Record<string, string> = {};
  for (const [name, file] of Object.entries(files)) {
    values[name] = readSecretFile(file, `targets.${target.name}.secretVars.${name}`);
  }
  return values;
}

/** A recap built from task results, for runs that ended before Ansible printed its own. */
function countInto(tally: Map<string, HostRecap>, result: TaskResult): void {
  const recap = tally.get(result.host) ?? { ok: 0, changed: 0, failed: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 };
  const status = result.status;
  if (status === 'ok' || status === 'changed') recap.ok += 1;
  if (status === 'changed') recap.changed += 1;
  if (status === 'failed' && result.ignored) recap.ignored += 1;
  if (status === 'failed' && result.rescued) recap.rescued += 1;
  if (status === 'failed' && !result.ignored && !result.rescued) recap.failed += 1;
  if (status === 'unreachable') recap.unreachable += 1;
  if (status === 'skipped') recap.skipped += 1;
  tally.set(result.host, recap);
}
