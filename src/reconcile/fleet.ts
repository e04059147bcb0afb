import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { Runner } from '../runner/index.js';
import type { GitSource, Revision, SourceView } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { Coverage, RunDetail, RunSummary, TaskResult, Trigger } from '../store/types.js';
import { hostStatusOf, targetStatusOf, type HostStatus, type TargetStatus } from './decide.js';
import { Reconciler, type ReconcileRequest } from './reconciler.js';
import { SourceWatcher } from './source-watcher.js';
import { join } from 'node:path';

export type TargetView = {
  name: string;
  mode: 'detect' | 'apply';
  status: TargetStatus;
  running: boolean;
  lastRun: RunSummary | null;
  /** Why the target cannot run at the current revision, if it cannot. */
  problem: string | null;
  /** Tasks the verify check after the last apply of this revision still changed. */
  nonIdempotentTasks: string[];
  /** What the newest finished check could and could not evaluate. */
  coverage: Coverage | null;
};

export type StatusView = {
  revision: { sha: string; branch: string; fetchedAt: string; subject: string } | null;
  source: { error: string | null; lastFetchAt: string | null };
  targets: TargetView[];
};

/**
 * The fleet as the API and CLI see it: the source watcher, the reconciler and the record, wired together,
 * with the schedule (poll, drift interval) that drives them.
 */
export class Fleet {
  readonly reconciler: Reconciler;
  private watcher: SourceWatcher | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private fixedRevision: Revision | undefined;

  constructor(
    private readonly config: Config,
    private readonly store: RunStore,
    private readonly log: Logger,
  ) {
    const runner = new Runner(join(config.stateDir, 'work'), config.ansible);
    this.reconciler = new Reconciler({ config, store, runner, log, revision: () => this.revision });
  }

  get revision(): Revision | undefined {
    return this.watcher?.state.revision ?? this.fixedRevision;
  }

  /** Daemon mode: fetch now and on every poll, reconcile on each new commit and on the drift interval. */
  watch(source: GitSource): void {
    this.watcher = new SourceWatcher(source, this.config.repository.pollIntervalMs, this.log, (_revision, first) => {
      this.reconcileAll(first ? 'startup' : 'commit');
      try {
        source.prune(this.config.repository.keepRevisions, this.reconciler.revisionsInUse());
      } catch (error) {
        this.log.warn({ err: messageOf(error) }, 'could not prune old checkouts');
      }
    });
    this.watcher.start();
    this.driftTimer = setInterval(() => this.reconcileAll('schedule'), this.config.reconcile.intervalMs);
    this.driftTimer.unref();
  }

  /** One-shot mode: use this revision, fetched by the caller. */
  useRevision(revision: Revision): void {
    this.fixedRevision = revision;
  }

  /** The source for `GET /api/v1/source`: what is watched, the revision in use, errors, the tips seen. */
  sourceView(limit?: number): SourceView | null {
    return this.watcher ? this.watcher.source.view(this.watcher.state, limit) : null;
  }

  /** Fetch now (webhooks, tests). */
  async fetchNow(): Promise<void> {
    await this.watcher?.poll();
  }

  async stop(graceMs: number): Promise<void> {
    this.watcher?.stop();
    clearInterval(this.driftTimer);
    await this.reconciler.shutdown(graceMs);
  }

  reconcile(names: readonly string[] | undefined, request: ReconcileRequest): Array<{ id: number; target: string }> {
    return this.reconciler.request(names, request);
  }

  cancel(runId: number): void {
    const run = this.store.get(runId);
    if (!run) throw new FleetError('not-found', `no run with id ${runId}`);
    if (!this.reconciler.cancel(runId)) {
      throw new FleetError('conflict', `run ${runId} is ${run.status}; only queued or running runs can be cancelled`);
    }
  }

  status(): StatusView {
    const revision = this.reconciler.revision();
    const state = this.watcher?.state;
    return {
      revision: revision
        ? { sha: revision.sha, branch: revision.ref, fetchedAt: revision.fetchedAt, subject: revision.subject }
        : null,
      source: { error: state?.error ?? null, lastFetchAt: state?.lastFetchAt ?? null },
      targets: this.reconciler.list().map((t) => this.targetView(t.name, t.mode, t.problem)),
    };
  }

  target(name: string): TargetView & { hosts: Array<{ name: string; status: HostStatus; changedTasks: number }> } {
    const target = this.reconciler.list().find((t) => t.name === name);
    if (!target) throw new FleetError('not-found', `unknown target: ${name}`);
    const hosts = this.store.latestHostRecaps(name).map((recap) => ({
      name: recap.host,
      status: hostStatusOf(recap.kind, recap),
      changedTasks: recap.kind === 'check' ? recap.changed : 0,
    }));
    return { ...this.targetView(name, target.mode, target.problem), hosts };
  }

  runs(filter: { target?: string; limit: number; beforeId?: number }): RunSummary[] {
    return this.store.list(filter);
  }

  /** A page of a run's task results after the cursor; `next` is the cursor for the following page. */
  events(id: number, after: number, limit: number): { events: Array<TaskResult & { id: number }>; next: number | null } {
    this.run(id);
    const events = this.store.events(id, after, limit);
    return { events, next: events.length === limit ? (events.at(-1)?.id ?? null) : null };
  }

  run(id: number): RunDetail {
    const detail = this.store.detail(id);
    if (!detail) throw new FleetError('not-found', `no run with id ${id}`);
    return detail;
  }

  private targetView(name: string, mode: TargetView['mode'], problem: string | undefined): TargetView {
    const revision = this.reconciler.revision()?.sha;
    const lastCheck = this.store.lastCheck(name);
    return {
      name,
      mode,
      status: targetStatusOf(this.store.lastConclusive(name)),
      running: this.reconciler.isBusy(name),
      lastRun: this.store.lastStarted(name) ?? null,
      problem: problem ?? null,
      nonIdempotentTasks: revision ? [...this.reconciler.nonIdempotentTasks(name, revision)] : [],
      coverage: lastCheck ? this.store.coverage(lastCheck.id) : null,
    };
  }

  private reconcileAll(trigger: Trigger): void {
    try {
      const runs = this.reconciler.request(undefined, { trigger });
      this.log.info({ trigger, runs: runs.length }, 'reconcile queued');
    } catch (error) {
      this.log.warn({ trigger, err: messageOf(error) }, 'reconcile not queued');
    }
  }
}
