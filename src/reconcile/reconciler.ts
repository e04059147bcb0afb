import PQueue from 'p-queue';
import type { Config } from '../config/index.js';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Runner } from '../runner/index.js';
import type { Revision } from '../source/index.js';
import type { RunStore } from '../store/runs.js';
import type { Control, TargetRecord, TargetStore } from '../store/targets.js';
import type { RunResult, RunSummary, Trigger } from '../store/types.js';
import { writeRunRecord } from './record-writes.js';
import type { FleetEvents } from './events.js';
import { settledStatusOf, targetStatusOf, type TargetStatus } from './status.js';
import { Controls } from './controls.js';
import type { Waiting } from './decide.js';
import { HostLocks, type HostSet } from './host-locks.js';
import { PolicyGates } from './policy-gates.js';
import type { GateResults } from '../store/previews.js';
import { KeyedQueue } from './keyed-queue.js';
import { runPipeline, type PipelineDeps } from './pipeline.js';
import { Reconcile, type ReconcileRequest } from './reconcile.js';
import { RevisionGate } from './revision-gate.js';
import { Scheduler } from './schedule.js';
import { resolveTargets, type Target } from './targets.js';
import { windowState, describeWindow } from './windows.js';

export type { ReconcileRequest } from './reconcile.js';

export type ReconcilerDeps = {
  config: () => Config;
  store: RunStore;
  targets: TargetStore;
  runner: () => Runner;
  log: Logger;
  /** The newest revision the source accepted. */
  revision: () => Revision | undefined;
  /** The checkout of an accepted revision, fetched again if it was pruned. */
  revisionAt: (sha: string) => Promise<Revision>;
  gateResults: GateResults;
  events: FleetEvents;
};

/** Triggers of reconciles nobody asked for in person: a suspended target gets none of them. */
const automatic: ReadonlySet<Trigger> = new Set(['startup', 'schedule', 'commit', 'webhook', 'retry', 'window']);

/**
 * Takes reconcile requests and runs them: per target one reconcile at a time with at most one waiting behind
 * it (requests join the waiting one), targets that share a host one after the other, and across targets at most
 * `reconcile.concurrency` ansible-playbook processes at once. What a reconcile does is its pipeline
 * (pipeline.ts); the controls around its decision (suspension, holds, windows, dependencies, retries) are here
 * and in controls.ts.
 */
export class Reconciler {
  private readonly slots: PQueue;
  private readonly queue: KeyedQueue<Reconcile>;
  /** Every run id of a reconcile in progress, for cancel. */
  private readonly byRun = new Map<number, Reconcile>();
  /** Reconciles taken out of the queue (cancelled or stopped before they ran) that are recording that. */
  private readonly evicted = new Set<Reconcile>();
  private readonly revisions: RevisionGate;
  private readonly scheduler: Scheduler;
  readonly controls: Controls;
  readonly policyGates: PolicyGates;
  private readonly pipeline: PipelineDeps;
  /** Hosts per target and revision, listed when two targets could overlap; `known` once the listing is done. */
  private readonly hosts = new Map<string, { listing: Promise<HostSet>; known?: HostSet }>();
  /** sharedHosts' last answer, until what it is made of changes (see there). */
  private shared: { key: string; value: Map<string, string[]> } | undefined;
  /** Targets per revision checkout, for the config they were worked out with. */
  private readonly targetsOf = new Map<string | undefined, Target[]>();
  private targetsConfig: Config | undefined;
  private stopping = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.slots = new PQueue({ concurrency: deps.config().reconcile.concurrency });
    this.revisions = new RevisionGate({
      runner: deps.runner,
      log: deps.log,
      timeoutMs: () => deps.config().reconcile.timeoutMs,
      current: deps.revision,
    });
    this.queue = new KeyedQueue((reconcile) => this.run(reconcile));
    this.scheduler = new Scheduler((target, trigger) => this.requestOne(target, trigger));
    this.controls = new Controls({
      runs: deps.store,
      targets: deps.targets,
      scheduler: this.scheduler,
      targetsAt: (root) => this.targetsAt(root),
      request: (target, trigger) => this.requestOne(target, trigger),
      log: deps.log,
    });
    this.policyGates = new PolicyGates({ results: deps.gateResults, runner: deps.runner, log: deps.log });
    this.pipeline = {
      config: deps.config,
      store: deps.store,
      runner: deps.runner,
      log: deps.log,
      revisions: this.revisions,
      slots: this.slots,
      controls: this.controls,
      policyGates: this.policyGates,
      hostLocks: new HostLocks(),
      hostsOf: (target, revision) => this.hostsOf(target, revision),
      resolveTarget: (name, revision) => this.targetsAt(revision.root).find((t) => t.name === name),
      pickRevision: (reconcile) => this.pickRevision(reconcile),
      isStopping: () => this.stopping,
      onRunCreated: (reconcile, runId) => {
        reconcile.runIds.add(runId);
        this.byRun.set(runId, reconcile);
      },
      finishRun: (runId, result) => this.finishRun(runId, result),
    };
  }

  /** The targets of the revision in use, with their effective settings. */
  list(): Target[] {
    return this.targetsAt(this.revision()?.root);
  }

  /** The targets of any revision (a preview's). */
  targetsAtRevision(revision: Revision): Target[] {
    return this.targetsAt(revision.root);
  }

  /** The newest tip the source accepted (a target whose reconciles cannot use it says so: `tipProblem`). */
  revision(): Revision | undefined {
    return this.revisions.revision();
  }

  /** The revision the target's reconciles run at now (a preview's plan is set against it). */
  revisionOf(name: string): string | undefined {
    const tip = this.revision();
    return tip ? this.revisionFor(name, tip).sha : this.deps.targets.record(name).held?.revision;
  }

  /**
   * Why the target does not follow the newest tip, when a reconcile of the fleet could not prepare that tip:
   * names the tip, the reason, and where reconciles go on instead (one sentence, for `problem`).
   */
  tipProblem(name: string): string | undefined {
    const tip = this.revision();
    const choice = tip && this.revisionFor(name, tip);
    if (!tip || !choice?.broken) return undefined;
    const why = choice.broken.why.split('\n')[0]!.slice(0, 300);
    const stays = choice.fallback
      ? `reconciles go on at ${choice.fallback.slice(0, 12)}, the revision this target last ran`
      : 'this target ran no earlier revision, so only an explicit reconcile tries it again';
    return `${tip.ref} is at ${tip.sha.slice(0, 12)} (${JSON.stringify(tip.subject)}), which is not in use: ${why}; ${stays}`;
  }

  /** True while a reconcile of the target is queued or running. */
  isBusy(name: string): boolean {
    return this.queue.isBusy(name);
  }

  /** What the target waits for, if anything. */
  waitingOf(name: string): Waiting | undefined {
    return this.controls.waitingOf(name);
  }

  /** Revisions that runs are using or targets are held at; their checkouts must not be removed. */
  revisionsInUse(): Set<string> {
    // Held revisions, and the revision a target goes on at while the tip cannot be prepared.
    const pinned = this.list().flatMap((t) => this.revisionOf(t.name) ?? []);
    return new Set([...this.revisions.inUse(), ...pinned]);
  }

  /** Revisions whose installed requirements were pruned: the next run at one installs them again. */
  forgetPrepared(shas: Iterable<string>): void {
    this.revisions.forget(shas);
  }

  /** How many ansible-playbook processes wait for a slot and how many run (metrics). */
  load(): { queued: number; running: number } {
    return { queued: this.slots.size, running: this.slots.pending };
  }

  /**
   * Queues a reconcile of the named targets (all when none), returning per target the run that will execute
   * first. Everything is checked before anything is queued: unknown names, and for a request in person
   * (API, CLI) an apply of a suspended target or outside the apply windows without `force`. Automatic triggers
   * pass over suspended targets.
   */
  request(names: readonly string[] | undefined, request: ReconcileRequest): Array<{ id: number; target: string }> {
    if (this.stopping) throw new FleetError('conflict', 'fleetcd is shutting down; no new runs are accepted');
    const revision = this.revision();
    if (!revision) throw new FleetError('conflict', 'no revision has been fetched yet; see source.error in the status', { retryable: true });
    const known = new Map(this.list().map((t) => [t.name, t]));
    const unknown = (names ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new FleetError('not-found', `unknown target: ${unknown.join(', ')}`);
    const chosen = (names && names.length > 0 ? [...new Set(names)] : [...known.keys()]).map((name) => known.get(name)!);
    const records = this.deps.targets.records(chosen.map((t) => t.name));
    const runnable = chosen.flatMap((target) => {
      const suspension = records.get(target.name)?.suspension;
      if (suspension && automatic.has(request.trigger)) return [];
      if (request.mode === 'apply') this.refuseApply(target, suspension ?? null, request);
      const choice = this.revisionFor(target.name, revision);
      // A tip that failed to prepare had its failed run; with nothing earlier to go on at, only a person retries it.
      if (choice.broken && !choice.fallback && automatic.has(request.trigger)) {
        this.deps.log.debug({ target: target.name, tip: revision.sha, trigger: request.trigger }, 'reconcile not queued: the tip cannot be prepared');
        return [];
      }
      return [{ target, at: request.revision ?? choice.sha }];
    });
    return runnable.map(({ target, at }) => ({ id: this.enqueue(target.name, at, request).id, target: target.name }));
  }

  /**
   * Suspends a target: no automatic runs, its queued reconciles are cancelled (a running run finishes, and its
   * check is never followed by an apply). Idempotent; it survives restarts.
   */
  suspend(name: string, control: Control): void {
    this.known(name);
    if (!this.deps.targets.record(name).suspension) this.deps.targets.suspend(name, control);
    this.controls.forget(name);
    this.scheduler.forget(name);
    for (const reconcile of this.queue.jobs()) {
      if (reconcile.key === name && !reconcile.executed) this.stop(reconcile, 'cancel');
    }
    this.deps.log.info({ target: name, by: control.by, reason: control.reason }, 'target suspended');
  }

  /** Ends a suspension and a hold, and reconciles at once to catch up with what was committed meanwhile. */
  resume(name: string, by: string): Array<{ id: number; target: string }> {
    this.known(name);
    this.deps.targets.resume(name);
    this.controls.forget(name);
    this.deps.log.info({ target: name, by }, 'target resumed');
    return this.request([name], { trigger: 'resume', requestedBy: by });
  }

  /**
   * Holds a target at an accepted revision and applies it to every host, whatever the target's mode and
   * through maintenance windows (it is the incident tool); refused for a suspended target.
   */
  rollback(name: string, sha: string, control: Control): Array<{ id: number; target: string }> {
    this.known(name);
    const suspension = this.deps.targets.record(name).suspension;
    if (suspension) throw new FleetError('conflict', `target ${name} is suspended${reasonOf(suspension)}; resume it first`);
    this.deps.targets.hold(name, { ...control, revision: sha });
    this.controls.forget(name);
    this.deps.log.warn({ target: name, revision: sha, by: control.by, reason: control.reason }, 'target held at a revision (rollback)');
    return this.request([name], { trigger: 'rollback', mode: 'apply', revision: sha, requestedBy: control.by });
  }

  /**
   * The hosts two or more targets share, per target, from what is known: hosts listed for the revision in use,
   * else the hosts the record has seen. Shared hosts are serialised; the status lists them.
   */
  sharedHosts(targets: readonly Target[]): Map<string, string[]> {
    const revision = this.revision();
    // Every status read and metrics scrape asks; the answer changes only when a run's end is written (its host
    // recaps), a listing resolves, or the revision or the targets change. Reading 1,000 hosts each time was
    // most of a status read.
    const key = `${revision?.sha}\n${targets.map((t) => t.name).join('\n')}`;
    if (this.shared?.key === key) return this.shared.value;
    const recorded = this.deps.targets.knownHosts();
    const hostsOf = new Map<string, ReadonlySet<string>>();
    for (const target of targets) {
      const listed = revision ? this.hosts.get(hostsKey(target.name, revision.sha))?.known : undefined;
      hostsOf.set(target.name, listed ?? recorded.get(target.name) ?? new Set());
    }
    // One pass over every host: which targets have it. A host with two or more is shared by each of them.
    const holders = new Map<string, string[]>();
    for (const [name, hosts] of hostsOf) for (const host of hosts) holders.set(host, [...(holders.get(host) ?? []), name]);
    const shared = new Map<string, string[]>(targets.map((t) => [t.name, []]));
    for (const [host, names] of holders) if (names.length > 1) for (const name of names) shared.get(name)?.push(host);
    for (const hosts of shared.values()) hosts.sort();
    this.shared = { key, value: shared };
    return shared;
  }

  /**
   * One check of a preview: the target at the preview's revision, recorded as a run of trigger `preview` with
   * the preview's id (so it never counts toward the target's status). It never runs beside another run of the
   * target (nor of a target sharing a host), and it waits behind the target's own runs for a slot. It takes the
   * reconcile's steps (prepare in the preview lane, then check) and ends there. Never throws: whatever stops it
   * is the run's recorded end, written by the pipeline's settle.
   */
  async previewCheck(name: string, revision: Revision, preview: { id: number; requestedBy?: string }, signal: AbortSignal): Promise<RunSummary> {
    const { store } = this.deps;
    const id = store.create({ target: name, kind: 'check', trigger: 'preview', revision: revision.sha, previewId: preview.id, requestedBy: preview.requestedBy });
    const reconcile = new Reconcile(name, id, { trigger: 'preview', mode: 'check', requestedBy: preview.requestedBy }, revision.sha);
    const abort = (): void => reconcile.abort(signal.reason === 'shutdown' ? 'shutdown' : 'cancel');
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    try {
      await runPipeline({ reconcile, deps: this.pipeline, open: { id, kind: 'check' }, releases: [], preview: revision });
    } finally {
      signal.removeEventListener('abort', abort);
      reconcile.finished();
    }
    return store.get(id)!;
  }

  /** Resolves when every reconcile queued so far has finished (one-shot verbs and tests wait on this). */
  async idle(): Promise<void> {
    for (;;) {
      const pending = [...this.queue.jobs(), ...this.evicted];
      if (pending.length === 0) break;
      await Promise.all(pending.map((reconcile) => reconcile.done));
    }
    await this.slots.onIdle();
  }

  /** Stops a queued or running run; false when it is neither. */
  cancel(runId: number): boolean {
    const reconcile = this.byRun.get(runId);
    const run = this.deps.store.get(runId);
    if (!reconcile || (run?.status !== 'queued' && run?.status !== 'running')) return false;
    this.deps.log.info({ target: reconcile.key, runId }, 'cancelling');
    this.stop(reconcile, 'cancel');
    return true;
  }

  /** Takes a new config (SIGHUP): the concurrency cap changes now, schedules from now on. */
  reconfigure(config: Config): void {
    this.slots.concurrency = config.reconcile.concurrency;
    for (const target of this.targetsAt(this.revision()?.root, config)) this.scheduler.scheduleNext(target.name, target.policy);
  }

  /**
   * Stops taking work: what has not started ends `interrupted` now, running runs get `graceMs` to finish,
   * then they are stopped. Every run ends in a recorded final state.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true;
    this.scheduler.stop();
    // Only ansible-playbook processes get the grace; a reconcile still preparing or waiting for a slot ends now,
    // and so does any requirements install.
    for (const reconcile of this.queue.jobs()) if (!reconcile.executing) this.stop(reconcile, 'shutdown');
    this.revisions.stop();
    // Gates are stopped now, like requirements installs: the grace is for ansible-playbook processes.
    const gates = this.policyGates.stop();
    const timer = setTimeout(() => {
      for (const reconcile of this.queue.jobs()) this.stop(reconcile, 'shutdown');
    }, graceMs);
    await this.idle();
    await gates;
    clearTimeout(timer);
    await this.deps.runner().closeControlMasters();
  }

  /** Writes a run's end, then tells observers how it moved its target's status (never for a preview's run). */
  private finishRun(runId: number, result: RunResult): void {
    const row = this.deps.store.row(runId);
    const was = row ? this.deps.targets.record(row.target) : undefined;
    const written = writeRunRecord(runId, 'record its end', () => this.deps.store.finish(runId, result));
    if (written) this.shared = undefined;
    if (!written || !row || row.preview_id !== null) return;
    const now = this.deps.targets.record(row.target);
    const settled = { before: was ? this.settled(was) : 'unknown', after: this.settled(now) } as const;
    this.deps.events.emit('run-finished', { run: this.deps.store.get(runId)!, before: targetStatusOf(was?.lastConclusive), after: targetStatusOf(now.lastConclusive), settled });
  }

  /** The target's status as notifications tell it: known non-idempotent changes are not drift. */
  private settled(record: TargetRecord): TargetStatus {
    const { store } = this.deps;
    return settledStatusOf(record, (run) => {
      const known = new Set(store.nonIdempotentTasks(run.target, run.revision));
      return store.changedTaskNames(run.id).every((task) => known.has(task));
    });
  }

  /** An automatic request for one target (schedule, wake-ups): a refusal is logged, never thrown. */
  private requestOne(name: string, trigger: Trigger): void {
    try {
      this.request([name], { trigger });
    } catch (error) {
      this.deps.log.debug({ target: name, trigger, err: messageOf(error) }, 'reconcile not queued');
    }
  }

  /** A request in person to apply is refused (409) for a suspended target and outside the apply windows. */
  private refuseApply(target: Target, suspension: Control | null, request: ReconcileRequest): void {
    if (suspension) throw new FleetError('conflict', `target ${target.name} is suspended${reasonOf(suspension)}; resume it first`);
    if (request.force || request.trigger === 'rollback' || automatic.has(request.trigger)) return;
    const state = windowState(target.policy.applyWindows, new Date());
    if (state.open) return;
    const next = state.opensAt ? `; the next opens at ${state.opensAt.toISOString()}` : '';
    const which = state.window ? ` (${describeWindow(state.window)})` : '';
    throw new FleetError('conflict', `target ${target.name} is outside its apply windows${next}${which}; to apply now anyway, add force ("force": true in the API, --force on the CLI)`);
  }

  private known(name: string): void {
    if (!this.list().some((t) => t.name === name)) throw new FleetError('not-found', `unknown target: ${name}`);
  }

  private enqueue(name: string, at: string, request: ReconcileRequest): Reconcile {
    // A reconcile whose first run has not started (nor been decided) joins the request, if it runs (or will run) at this revision.
    const joined = this.queue.joinable(name, (r) => r.acceptsJoins && (r.revision ?? r.request.revision ?? r.planned) === at);
    if (joined && joined.request.trigger !== 'rollback' && request.trigger !== 'rollback') {
      joined.join(request);
      return joined;
    }
    const id = this.deps.store.create({
      target: name,
      kind: 'check',
      trigger: request.trigger,
      revision: at,
      requestedBy: request.requestedBy,
    });
    const reconcile = new Reconcile(name, id, request, at);
    this.byRun.set(id, reconcile);
    if (joined) {
      // A rollback never joins another reconcile: it replaces the waiting one, which ends cancelled.
      this.stop(joined, 'cancel');
    }
    this.queue.add(reconcile);
    return reconcile;
  }

  /** Aborts a reconcile; one still waiting in the queue is taken out and records its end at once. */
  private stop(reconcile: Reconcile, reason: 'cancel' | 'shutdown'): void {
    reconcile.abort(reason);
    if (!this.queue.remove(reconcile)) return;
    this.evicted.add(reconcile);
    void this.run(reconcile).finally(() => this.evicted.delete(reconcile));
  }

  private async run(reconcile: Reconcile): Promise<void> {
    await runPipeline({ reconcile, deps: this.pipeline, open: { id: reconcile.id, kind: 'check' }, releases: [] });
    for (const id of reconcile.runIds) this.byRun.delete(id);
    reconcile.finished();
    if (this.stopping || reconcile.signal.aborted) return;
    const targets = this.list();
    const target = targets.find((t) => t.name === reconcile.key);
    if (target && !this.deps.targets.record(target.name).suspension) this.scheduler.scheduleNext(target.name, target.policy);
    this.controls.ended(reconcile.key, targets);
  }

  /** Picked when the reconcile starts (the tip may have moved, or failed to prepare, since it was queued). */
  private async pickRevision(reconcile: Reconcile): Promise<Revision | undefined> {
    const current = this.revision();
    const sha = reconcile.request.revision ?? this.revisionOf(reconcile.key);
    if (!sha || sha === current?.sha) return current;
    return this.deps.revisionAt(sha);
  }

  /**
   * What a target may run (contract note 19): its hold's revision, else the newest accepted tip, unless a
   * reconcile of the fleet could not prepare that tip: then the newest revision the target's own runs ran
   * (never a preview's) that is not unusable too. `revisionAt` takes only revisions the source accepted.
   */
  private revisionFor(name: string, tip: Revision): { sha: string; broken?: { why: string }; fallback?: string } {
    const held = this.deps.targets.record(name).held?.revision;
    if (held) return { sha: held };
    const why = this.revisions.whyUnusable(tip.sha);
    if (!why) return { sha: tip.sha };
    const fallback = this.deps.store.ranRevisions(name).find((sha) => sha !== tip.sha && !this.revisions.whyUnusable(sha));
    return { sha: fallback ?? tip.sha, broken: { why }, fallback };
  }

  private hostsOf(target: Target, revision: Revision): Promise<HostSet> {
    const key = hostsKey(target.name, revision.sha);
    const known = this.hosts.get(key);
    if (known) return known.listing;
    const entry: { listing: Promise<HostSet>; known?: HostSet } = { listing: Promise.resolve(new Set<string>()) };
    if (target.inventory) {
      entry.listing = this.deps
        .runner()
        .listHosts(revision.root, target.inventory, this.deps.config().ansible)
        .then(
          (names) => new Set(names),
          (error: unknown) => {
            this.deps.log.warn({ target: target.name, err: messageOf(error) }, 'could not list the inventory hosts; serialising with every target');
            return null;
          },
        );
    }
    void entry.listing.then((hosts) => {
      entry.known = hosts;
      this.shared = undefined;
    });
    if (this.hosts.size > 1000) this.hosts.clear();
    this.hosts.set(key, entry);
    return entry.listing;
  }

  /**
   * Targets of a revision with their effective settings. A checkout never changes and the config only by a
   * reload, so they are worked out once per revision and config.
   */
  private targetsAt(root: string | undefined, config = this.deps.config()): Target[] {
    if (this.targetsConfig !== config) this.targetsOf.clear();
    this.targetsConfig = config;
    let targets = this.targetsOf.get(root);
    if (targets) return targets;
    targets = resolveTargets(config, root);
    if (this.targetsOf.size >= 8) this.targetsOf.clear();
    this.targetsOf.set(root, targets);
    return targets;
  }
}

function hostsKey(target: string, sha: string): string {
  return `${sha}\n${target}`;
}

function reasonOf(control: Control): string {
  return control.reason ? ` (${control.reason})` : '';
}
