import { createReadStream, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { Runner } from '../runner/index.js';
import type { GitSource, Lineage, Revision, SourceView } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { GateResults, PreviewStore } from '../store/previews.js';
import type { RunRetention } from '../store/retention.js';
import type { TargetStore } from '../store/targets.js';
import type { RunDetail, RunSummary, TaskResult, Trigger } from '../store/types.js';
import { Comparisons, compareBounds, type Comparison } from './compare.js';
import { runLogFile } from './execute-run.js';
import { FleetEvents } from './events.js';
import { Previews } from './previews.js';
import { Pruner } from './pruner.js';
import { Reconciler, type ReconcileRequest } from './reconciler.js';
import { SourceWatcher } from './source-watcher.js';
import { hostStatusOf } from './status.js';
import type { Target } from './targets.js';
import { revisionsNamed, targetView, type HostPage, type StatusView, type TargetDetail, type TargetView } from './views.js';

const day = 86_400_000;

export type FleetStores = { runs: RunStore; targets: TargetStore; retention: RunRetention; previews: PreviewStore; gates: GateResults };

/** Who set a control, and why. */
export type Actor = { by: string; reason?: string | null };

/**
 * The fleet as the API and CLI see it: the source watcher, the reconciler and the record, wired together,
 * with what drives them (polls, commits, webhooks) and what operators do to them (suspend, resume, rollback).
 */
export class Fleet {
  readonly reconciler: Reconciler;
  /** Facts after they are recorded (runs ended, fetches tried), for metrics and notifications. */
  readonly changes: FleetEvents;
  /** Previews of any revision against the live fleet. */
  readonly previews: Previews;
  /** Retention: old runs go on a schedule in daemon mode (`prune()` runs a pass now). */
  readonly pruner: Pruner;
  private watcher: SourceWatcher | undefined;
  private fixedRevision: Revision | undefined;
  /** One-shot mode's revisions so far: the ones a target may go on at when a newer one cannot be prepared. */
  private readonly fixedBefore = new Map<string, Revision>();
  private runner: Runner;
  private loadedAt = new Date().toISOString();
  /** The trigger of the reconcile the next new revision causes (a webhook's fetch says `webhook`). */
  private nextCommitTrigger: Trigger = 'commit';
  private readonly comparisons = new Comparisons((from, to) => this.lineage(from, to));

  constructor(
    private config: Config,
    private readonly stores: FleetStores,
    private readonly log: Logger,
  ) {
    this.runner = new Runner(join(config.stateDir, 'work'), config.ansible);
    this.changes = new FleetEvents((event, error) => log.error({ event, err: messageOf(error) }, 'an observer of fleet events failed'));
    this.reconciler = new Reconciler({
      config: () => this.config,
      store: stores.runs,
      targets: stores.targets,
      runner: () => this.runner,
      log,
      revision: () => this.revision,
      revisionAt: (sha) => this.revisionAt(sha),
      gateResults: stores.gates,
      events: this.changes,
    });
    this.previews = new Previews({
      store: stores.previews,
      runs: stores.runs,
      reconciler: this.reconciler,
      policyGates: this.reconciler.policyGates,
      fetchRef: (ref) => this.fetchRef(ref),
      events: this.changes,
      log,
    });
    this.pruner = new Pruner({
      retention: stores.retention,
      policy: () => this.config.retention,
      stateDir: () => this.config.stateDir,
      inUse: () => this.revisionsInUse(),
      files: (inUse) => this.pruneFiles(inUse),
      gc: async () => {
        const watcher = this.watcher;
        if (watcher) await watcher.between(() => watcher.source.gc());
      },
      log,
    });
  }

  get revision(): Revision | undefined {
    return this.watcher?.state.revision ?? this.fixedRevision;
  }

  /** Daemon mode: fetch now and on every poll, reconcile every target on each new revision; prune old runs. */
  watch(source: GitSource): void {
    if (!this.watcher) this.pruner.start();
    this.watcher?.stop();
    this.watcher = new SourceWatcher(
      source,
      this.config.repository.pollIntervalMs,
      this.log,
      (revision, first) => {
        this.stores.runs.rememberCommit(revision);
        const trigger = first ? 'startup' : this.nextCommitTrigger;
        this.nextCommitTrigger = 'commit';
        this.reconcileAll(trigger, first ? undefined : revision.author);
        this.prune(source);
      },
      this.watcher?.state.revision,
      (state) => this.changes.emit('fetched', { ok: state.error === null, error: state.error, revision: state.revision && { sha: state.revision.sha, ref: state.revision.ref } }),
    );
    this.watcher.start();
  }

  /** One-shot mode: use this revision, fetched by the caller. */
  useRevision(revision: Revision): void {
    this.stores.runs.rememberCommit(revision);
    if (this.fixedRevision) this.fixedBefore.set(this.fixedRevision.sha, this.fixedRevision);
    this.fixedRevision = revision;
  }

  /**
   * Takes a config the daemon reloaded (SIGHUP) without stopping runs in flight: Ansible settings apply to the
   * next runs, the concurrency cap and schedules at once, and a changed repository section gets a new source
   * (the revision in use stays until it fetched). `stateDir` and `api.listen` need a restart (main.ts says so).
   */
  reload(config: Config, source: () => GitSource): void {
    const repositoryChanged = JSON.stringify(config.repository) !== JSON.stringify(this.config.repository);
    this.config = config;
    this.loadedAt = new Date().toISOString();
    this.runner = new Runner(join(config.stateDir, 'work'), config.ansible);
    this.reconciler.reconfigure(config);
    if (repositoryChanged && this.watcher) this.watch(source());
  }

  /** The source for `GET /api/v1/source`: what is watched, the revision in use, errors, the tips seen. */
  sourceView(limit?: number): SourceView {
    if (!this.watcher) throw new FleetError('not-found', 'this fleetcd is not watching a repository');
    return this.watcher.source.view(this.watcher.state, limit);
  }

  /** Fetch now (webhooks, tests); a new revision it finds is reconciled with `trigger`. */
  async fetchNow(trigger: Trigger = 'commit'): Promise<void> {
    this.nextCommitTrigger = trigger;
    await this.watcher?.poll();
  }

  async stop(graceMs: number): Promise<void> {
    this.watcher?.stop();
    this.pruner.stop();
    const previews = this.previews.stop();
    await this.reconciler.shutdown(graceMs);
    await previews;
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

  suspend(name: string, actor: Actor): TargetDetail {
    this.reconciler.suspend(name, { by: actor.by, reason: actor.reason ?? null, at: new Date().toISOString() });
    return this.target(name);
  }

  resume(name: string, actor: Actor): TargetDetail {
    this.reconciler.resume(name, actor.by);
    return this.target(name);
  }

  /** Holds a target at a revision the source accepted before (a full sha, or an unambiguous prefix of one). */
  rollback(name: string, revision: string, actor: Actor): Array<{ id: number; target: string }> {
    const sha = this.acceptedRevision(revision);
    return this.reconciler.rollback(name, sha, { by: actor.by, reason: actor.reason ?? null, at: new Date().toISOString() });
  }

  status(): StatusView {
    const revision = this.reconciler.revision();
    const state = this.watcher?.state;
    return {
      revision: revision
        ? { sha: revision.sha, branch: revision.ref, fetchedAt: revision.fetchedAt, subject: revision.subject }
        : null,
      source: { error: state?.error ?? null, lastFetchAt: state?.lastFetchAt ?? null },
      config: { file: this.config.file, loadedAt: this.loadedAt },
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

  /** What target `from` runs that target `to` does not, and the reverse (`GET /api/v1/compare`). */
  async compare(from: string, to: string): Promise<Comparison> {
    const targets = this.reconciler.list();
    const named = (name: string): Target => {
      const target = targets.find((t) => t.name === name);
      if (!target) throw new FleetError('not-found', `unknown target: ${name}`);
      return target;
    };
    const [a, b] = this.views([named(from), named(to)]);
    return this.comparisons.compare(a!, b!);
  }

  /** What the fleet knows of one host across targets: "which hosts did we actually touch". */
  host(name: string): HostPage {
    const rows = this.stores.targets.hostRows(name);
    const runs = this.stores.runs.hostRuns(name, 20);
    if (rows.length === 0 && runs.length === 0) throw new FleetError('not-found', `no run has included a host named ${name}`);
    return {
      name,
      targets: rows.map((row) => ({
        target: row.target,
        status: hostStatusOf(row.kind, row),
        runId: row.runId,
        changedTasks: row.kind === 'check' ? row.changed : 0,
      })),
      changes: this.stores.runs.hostResults(name, 'changed', 20).map(({ runId, target, task, module, diff }) => ({ runId, target, host: name, task, module, diff })),
      failures: this.stores.runs.hostResults(name, 'failed', 20).map(({ runId, target, task, message }) => ({ runId, target, host: name, task, message })),
      runs,
    };
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

  /** The views of these targets, from a few reads of the record whatever their number. */
  private views(targets: Target[]): TargetView[] {
    const revision = this.reconciler.revision();
    const records = this.stores.targets.records(targets.map((t) => t.name));
    const commits = this.stores.targets.commits(targets.flatMap((t) => revisionsNamed(t.mode, records.get(t.name)!)));
    const shared = this.reconciler.sharedHosts(this.reconciler.list());
    const current = revision ? { sha: revision.sha, branch: revision.ref } : undefined;
    return targets.map((target) => {
      const record = records.get(target.name)!;
      const at = this.reconciler.revisionOf(target.name);
      const tipProblem = revision && this.reconciler.tipProblem(target.name);
      return targetView({
        target,
        record,
        running: this.reconciler.isBusy(target.name),
        commits,
        nonIdempotentTasks: at ? this.stores.runs.nonIdempotentTasks(target.name, at) : [],
        waiting: this.reconciler.waitingOf(target.name),
        sharedHosts: shared.get(target.name) ?? [],
        current,
        brokenTip: revision && tipProblem ? { sha: revision.sha, problem: tipProblem } : undefined,
      });
    });
  }

  /**
   * The commits between two revisions, read from the mirror between fetches (deepening it is mirror work). A
   * source that cannot answer now is a conflict naming why, not a 500.
   */
  private async lineage(from: string, to: string): Promise<Lineage> {
    const watcher = this.watcher;
    if (!watcher) throw new FleetError('not-found', 'this fleetcd is not watching a repository');
    try {
      return await watcher.between(() => watcher.source.compare(from, to, compareBounds));
    } catch (error) {
      if (error instanceof FleetError && error.reason === 'source') throw new FleetError('conflict', `cannot compare now: ${error.message}`, { cause: error, retryable: true });
      throw error;
    }
  }

  /** Any ref of the watched repository as a revision, fetched between polls (a preview's). */
  private async fetchRef(ref: string): Promise<Revision> {
    const watcher = this.watcher;
    if (watcher) return watcher.between(() => watcher.source.fetchRef(ref));
    if (this.fixedRevision && (ref === this.fixedRevision.sha || ref === this.fixedRevision.ref)) return this.fixedRevision;
    throw new FleetError('not-found', `${ref}: this fleetcd is not watching a repository`);
  }

  /** The checkout of an accepted revision: the one in use, or one the source fetches again. */
  private async revisionAt(sha: string): Promise<Revision> {
    if (this.revision?.sha === sha) return this.revision;
    if (this.fixedRevision?.sha === sha) return this.fixedRevision;
    const before = this.fixedBefore.get(sha);
    if (before) return before;
    if (!this.watcher) throw new FleetError('not-found', `revision ${sha} is not available to this fleetcd`);
    return this.watcher.source.revisionAt(sha);
  }

  private acceptedRevision(revision: string): string {
    if (!/^[0-9a-f]{7,40}$/.test(revision)) throw new FleetError('bad-request', `revision: must be a commit sha (7 to 40 hex digits), got ${JSON.stringify(revision)}`);
    const found = this.watcher?.source.acceptedMatching(revision) ?? (this.fixedRevision?.sha.startsWith(revision) ? [this.fixedRevision.sha] : []);
    if (found.length === 0) throw new FleetError('not-found', `revision ${revision} was never accepted by this fleetcd's source; roll back to one in GET /api/v1/source`);
    if (found.length > 1) throw new FleetError('bad-request', `revision ${revision} is ambiguous: ${found.map((s) => s.slice(0, 12)).join(', ')}`);
    return found[0]!;
  }

  private prune(source: GitSource): void {
    try {
      source.prune(this.config.repository.keepRevisions, this.revisionsInUse());
    } catch (error) {
      this.log.warn({ err: messageOf(error) }, 'could not prune old checkouts');
    }
  }

  /** Revisions runs use, targets are held at, and previews not ended are at (their gates run before their runs). */
  private revisionsInUse(): Set<string> {
    const previews = this.stores.retention.previewRevisions(this.config.retention, new Date());
    return new Set([...this.reconciler.revisionsInUse(), ...previews.going]);
  }

  /**
   * The retention pass's files: checkouts beyond `keepRevisions`, installed requirements without a kept
   * checkout, mirror refs of rollbacks and previews nothing keeps (between fetches), and the runner's leftovers.
   */
  private async pruneFiles(inUse: ReadonlySet<string>): Promise<void> {
    const { retention, repository } = this.config;
    this.runner.sweep(Math.max(day, 2 * this.longestTimeoutMs()), retention.maxAgeMs);
    const watcher = this.watcher;
    if (!watcher) return;
    const source = watcher.source;
    source.prune(repository.keepRevisions, inUse);
    const kept = new Set([...source.checkoutShas(), ...inUse]);
    this.reconciler.forgetPrepared(this.runner.pruneInstalls(kept));
    const previews = this.stores.retention.previewRevisions(retention, new Date());
    await watcher.between(() => source.pruneRefs({ held: kept, previews: previews.fetching ? undefined : new Set([...previews.kept, ...inUse]) }));
  }

  /** The longest a run may take: nothing a run leaves in the runner's temp dir is younger than its timeout. */
  private longestTimeoutMs(): number {
    return Math.max(this.config.reconcile.timeoutMs, ...Object.values(this.config.targets).map((t) => t.timeoutMs ?? 0));
  }

  private reconcileAll(trigger: Trigger, requestedBy?: string): void {
    try {
      const runs = this.reconciler.request(undefined, { trigger, requestedBy });
      this.log.info({ trigger, runs: runs.length }, 'reconcile queued');
    } catch (error) {
      this.log.warn({ trigger, err: messageOf(error) }, 'reconcile not queued');
    }
  }
}
