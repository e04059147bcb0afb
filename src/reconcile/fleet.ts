import { createReadStream, existsSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { Runner } from '../runner/index.js';
import type { GitSource, Revision, SourceView } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { TargetStore } from '../store/targets.js';
import type { RunDetail, RunSummary, TaskResult, Trigger } from '../store/types.js';
import { runLogFile } from './execute-run.js';
import { Reconciler, type ReconcileRequest } from './reconciler.js';
import { SourceWatcher } from './source-watcher.js';
import { hostStatusOf } from './status.js';
import type { Target } from './targets.js';
import { targetView, type StatusView, type TargetDetail, type TargetView } from './views.js';

export type FleetStores = { runs: RunStore; targets: TargetStore };

/**
 * The fleet as the API and CLI see it: the source watcher, the reconciler and the record, wired together,
 * with the schedule (poll, drift interval) that drives them.
 */
export class Fleet {
  readonly reconciler: Reconciler;
  private watcher: SourceWatcher | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private fixedRevision: Revision | undefined;
  private runner: Runner;

  constructor(
    private config: Config,
    private readonly stores: FleetStores,
    private readonly log: Logger,
  ) {
    this.runner = new Runner(join(config.stateDir, 'work'), config.ansible);
    this.reconciler = new Reconciler({
      config: () => this.config,
      store: stores.runs,
      runner: () => this.runner,
      log,
      revision: () => this.revision,
    });
  }

  get revision(): Revision | undefined {
    return this.watcher?.state.revision ?? this.fixedRevision;
  }

  /** Daemon mode: fetch now and on every poll, reconcile on each new commit and on the drift interval. */
  watch(source: GitSource): void {
    this.watcher = new SourceWatcher(source, this.config.repository.pollIntervalMs, this.log, (revision, first) => {
      this.stores.runs.rememberCommit(revision);
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
    this.stores.runs.rememberCommit(revision);
    this.fixedRevision = revision;
  }

  /** The source for `GET /api/v1/source`: what is watched, the revision in use, errors, the tips seen. */
  sourceView(limit?: number): SourceView {
    if (!this.watcher) throw new FleetError('not-found', 'this fleetcd is not watching a repository');
    return this.watcher.source.view(this.watcher.state, limit);
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
    const run = this.stores.runs.get(runId);
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
      targets: this.views(this.reconciler.list()),
    };
  }

  target(name: string): TargetDetail {
    const target = this.reconciler.list().find((t) => t.name === name);
    if (!target) throw new FleetError('not-found', `unknown target: ${name}`);
    const [view] = this.views([target]);
    const hosts = this.stores.runs.latestHostRecaps(name).map((recap) => ({
      name: recap.host,
      status: hostStatusOf(recap.kind, recap),
      changedTasks: recap.kind === 'check' ? recap.changed : 0,
    }));
    return { ...view!, hosts };
  }

  /** The views of these targets, from a few reads of the record whatever their number. */
  private views(targets: Target[]): TargetView[] {
    const revision = this.reconciler.revision();
    const records = this.stores.targets.records(targets.map((t) => t.name));
    const commits = this.stores.targets.commits([...records.values()].flatMap((r) => (r.lastStarted ? [r.lastStarted.revision] : [])));
    return targets.map((target) => {
      const record = records.get(target.name)!;
      return targetView({
        target,
        record,
        running: this.reconciler.isBusy(target.name),
        commit: record.lastStarted ? commits.get(record.lastStarted.revision) : undefined,
        nonIdempotentTasks: revision ? this.stores.runs.nonIdempotentTasks(target.name, revision.sha) : [],
      });
    });
  }

  runs(filter: { target?: string; limit: number; beforeId?: number }): RunSummary[] {
    return this.stores.runs.list(filter);
  }

  /** A page of a run's task results after the cursor; `next` is the cursor for the following page. */
  events(id: number, after: number, limit: number): { events: Array<TaskResult & { id: number }>; next: number | null } {
    this.run(id);
    const events = this.stores.runs.events(id, after, limit);
    return { events, next: events.length === limit ? (events.at(-1)?.id ?? null) : null };
  }

  run(id: number): RunDetail {
    const detail = this.stores.runs.detail(id);
    if (!detail) throw new FleetError('not-found', `no run with id ${id}`);
    return detail;
  }

  /** Ansible's plain output of a run from byte `offset` on, as a stream, with the log's size now. */
  runLog(id: number, offset = 0): { stream: Readable; size: number } {
    this.run(id);
    const file = runLogFile(this.config.stateDir, id);
    if (!existsSync(file)) throw new FleetError('not-found', `run ${id} has no log (it never started)`);
    const size = statSync(file).size;
    // Only the bytes that exist now: a run still writing its log is read again from `size` next time.
    const stream = offset >= size ? Readable.from([]) : createReadStream(file, { start: offset, end: size - 1 });
    return { stream, size };
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
