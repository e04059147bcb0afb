import { z } from 'zod';
import { FleetError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { Revision } from '../source/index.js';
import { gateResultSchema, previewStatuses, pullRequestSchema, type PreviewPlan, type PreviewRecord, type PreviewStore, type PullRequest } from '../store/previews.js';
import type { RunStore } from '../store/runs.js';
import { changeSchema, coverageSchema, failureSchema, runStatuses, type Change, type RunDetail } from '../store/types.js';
import type { FleetEvents } from './events.js';
import { gateFailure, type GateSpec, type PolicyGates } from './policy-gates.js';
import type { Reconciler } from './reconciler.js';
import type { Target } from './targets.js';

export const previewTargetSchema = z.object({
  target: z.string(),
  runId: z.number().int(),
  status: z.enum(runStatuses),
  error: z.string().nullable(),
  changes: z.array(changeSchema).describe('what this revision would change beyond the drift already there (kept as it was when the preview ended)'),
  existingDrift: z.array(changeSchema).describe("changes the target's newest check already reported when the preview ended"),
  unverified: coverageSchema.shape.unverified.describe('tasks check mode cannot verify'),
  failures: z.array(failureSchema),
});

export const previewViewSchema = z.object({
  id: z.number().int(),
  ref: z.string(),
  revision: z.string().nullable().describe('the commit the ref pointed to when it was fetched'),
  status: z.enum(previewStatuses),
  error: z.string().nullable(),
  supersededBy: z.string().nullable(),
  requestedBy: z.string().nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  pullRequest: pullRequestSchema.nullable(),
  gates: z.array(gateResultSchema).describe("the policy gates' results at the revision"),
  targets: z.array(previewTargetSchema),
});
export type PreviewView = z.infer<typeof previewViewSchema>;

export const previewSummarySchema = previewViewSchema.omit({ gates: true, targets: true });
export type PreviewSummary = z.infer<typeof previewSummarySchema>;

/**
 * Previews: a check of any revision of the watched repository against the live fleet, never an apply, never the
 * revision targets follow. Each target's check is a run of trigger `preview` that never counts toward the
 * target's status, queued behind the target's own runs. The plan per target is what the revision would change
 * beyond the drift already there (the target's newest check at the revision it runs at, matched by host, task and
 * diff). It is worked out while the preview goes and kept when it ends: a finished preview's plan is a record,
 * which later checks of the target (drift healed or grown) never change.
 */
export class Previews {
  private readonly going = new Map<number, { controller: AbortController; done: Promise<void> }>();
  private stopped = false;

  constructor(
    private readonly deps: {
      store: PreviewStore;
      runs: RunStore;
      reconciler: Reconciler;
      policyGates: PolicyGates;
      /** Fetches any ref of the watched repository as a revision (GitSource.fetchRef, between polls). */
      fetchRef: (ref: string) => Promise<Revision>;
      events: FleetEvents;
      log: Logger;
    },
  ) {}

  /** Starts a preview of `ref` (named targets are checked against the revision in use first) and gives its id. */
  start(ref: string, options: { targets?: readonly string[]; requestedBy?: string; pullRequest?: PullRequest } = {}): number {
    if (this.stopped) throw new FleetError('conflict', 'fleetcd is shutting down; no new previews are accepted');
    const known = new Set(this.deps.reconciler.list().map((t) => t.name));
    const unknown = (options.targets ?? []).filter((name) => !known.has(name));
    if (unknown.length > 0) throw new FleetError('not-found', `unknown target: ${unknown.join(', ')}`);
    const id = this.deps.store.create({ ref, targets: options.targets, requestedBy: options.requestedBy, pullRequest: options.pullRequest });
    const controller = new AbortController();
    const done = this.run(id, ref, options, controller.signal).finally(() => this.going.delete(id));
    this.going.set(id, { controller, done });
    this.announce(id);
    return id;
  }

  /** A preview refused before it ran (a fork's pull request): recorded, and announced, as failed. */
  refuse(ref: string, reason: string, pullRequest?: PullRequest): number {
    const id = this.deps.store.create({ ref, pullRequest });
    this.deps.store.finish(id, 'failed', reason);
    this.announce(id);
    return id;
  }

  /** Stops a preview that has not ended; its runs end cancelled. */
  cancel(id: number, reason = 'cancelled on request', supersededBy?: string): void {
    const record = this.deps.store.get(id);
    if (!record) throw new FleetError('not-found', `no preview with id ${id}`);
    if (record.status !== 'queued' && record.status !== 'running') {
      throw new FleetError('conflict', `preview ${id} is ${record.status}; only queued or running previews can be cancelled`);
    }
    this.deps.store.finish(id, 'cancelled', reason, supersededBy);
    this.going.get(id)?.controller.abort('cancel');
    this.announce(id);
  }

  /** A newer push to a pull request: its previews still going end cancelled, "superseded by <sha>". */
  supersede(pullRequest: PullRequest): void {
    for (const old of this.deps.store.openFor(pullRequest)) {
      this.cancel(old.id, `superseded by ${pullRequest.headSha}`, pullRequest.headSha);
    }
  }

  view(id: number): PreviewView {
    const record = this.deps.store.get(id);
    if (!record) throw new FleetError('not-found', `no preview with id ${id}`);
    const runs = this.deps.runs.previewRuns(id).map((run) => this.deps.runs.detail(run.id)!);
    const kept = this.deps.store.plans(id);
    const gates = record.revision ? this.deps.policyGates.at(record.revision) : [];
    return { ...summaryOf(record), gates, targets: runs.map((run) => this.targetPlan(run, kept.get(run.id) ?? this.split(run))) };
  }

  list(limit: number): PreviewSummary[] {
    return this.deps.store.list(limit).map(summaryOf);
  }

  /** Resolves when every preview going now has ended. */
  async idle(): Promise<void> {
    while (this.going.size > 0) await Promise.all([...this.going.values()].map((g) => g.done));
  }

  /** Shutdown: previews still going end interrupted (their runs are stopped with the reconciler's). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [id, going] of this.going) {
      this.deps.store.finish(id, 'cancelled', 'fleetcd stopped before this preview finished');
      going.controller.abort('shutdown');
      this.announce(id);
    }
    await this.idle();
  }

  private async run(id: number, ref: string, options: { targets?: readonly string[]; requestedBy?: string }, signal: AbortSignal): Promise<void> {
    const { store, reconciler, log } = this.deps;
    try {
      const revision = await this.deps.fetchRef(ref);
      if (signal.aborted) return;
      store.started(id, revision.sha);
      this.announce(id);
      const at = reconciler.targetsAtRevision(revision);
      const names = options.targets && options.targets.length > 0 ? [...options.targets] : at.map((t) => t.name);
      const gates = uniqueGates(at);
      const results = gates.length > 0 ? await this.deps.policyGates.check(revision, gates, signal) : [];
      const runs = await Promise.all(names.map((name) => reconciler.previewCheck(name, revision, { id, requestedBy: options.requestedBy }, signal)));
      this.freeze(id);
      const failed = runs.find((run) => run.status !== 'succeeded');
      const gate = gateFailure(results);
      const error = failed ? `${failed.target}: the check ${failed.status}${failed.error ? `: ${failed.error}` : ''}` : (gate ?? null);
      store.finish(id, failed || gate ? 'failed' : 'succeeded', error);
    } catch (error) {
      if (!signal.aborted) {
        log.warn({ preview: id, ref, err: messageOf(error) }, 'preview failed');
        store.finish(id, 'failed', messageOf(error));
      }
    }
    this.announce(id);
  }

  /** Keeps each target's plan as it stands now: the preview's runs have ended. */
  private freeze(id: number): void {
    for (const run of this.deps.runs.previewRuns(id)) {
      const detail = this.deps.runs.detail(run.id);
      if (detail) this.deps.store.freezePlan(id, run.id, this.split(detail));
    }
  }

  /** The preview's changes apart from the drift the target's newest check (at the revision it runs at) saw. */
  private split(run: RunDetail): PreviewPlan {
    const at = this.deps.reconciler.revisionOf(run.target);
    const existing = new Set(at ? this.deps.runs.newestCheckChanges(run.target, at).map(changeKey) : []);
    const plan: PreviewPlan = { changes: [], existingDrift: [] };
    for (const change of run.changes) (existing.has(changeKey(change)) ? plan.existingDrift : plan.changes).push(change);
    return plan;
  }

  private targetPlan(run: RunDetail, plan: PreviewPlan): z.infer<typeof previewTargetSchema> {
    return {
      target: run.target,
      runId: run.id,
      status: run.status,
      error: run.error,
      changes: plan.changes,
      existingDrift: plan.existingDrift,
      unverified: run.coverage?.unverified ?? [],
      failures: run.failures,
    };
  }

  /** Tells observers (the forge) where a preview stands: its statuses must not stay pending forever. */
  announce(id: number): void {
    try {
      this.deps.events.emit('preview', this.view(id));
    } catch (error) {
      this.deps.log.error({ preview: id, err: messageOf(error) }, 'could not describe a preview');
    }
  }
}

function summaryOf(record: PreviewRecord): PreviewSummary {
  return {
    id: record.id,
    ref: record.ref,
    revision: record.revision,
    status: record.status,
    error: record.error,
    supersededBy: record.supersededBy,
    requestedBy: record.requestedBy,
    createdAt: record.createdAt,
    finishedAt: record.finishedAt,
    pullRequest: record.pullRequest,
  };
}

/** The policy gates of these targets, each once. */
function uniqueGates(targets: readonly Target[]): GateSpec[] {
  return [...new Map(targets.flatMap((t) => t.policy.gates).map((g) => [`${g.name}\n${JSON.stringify(g.command)}`, g])).values()];
}

/**
 * Host, task and diff: what makes two changes the same change. The diff is compared by what it says (before,
 * after, prepared text, the file it is about), not by the controller's temp file that copy and template name as
 * the "after" side, which differs on every run.
 */
function changeKey(change: Change): string {
  const diff = (change.diff ?? []).map((entry) => {
    const { before, after, prepared, before_header: file } = (entry ?? {}) as Record<string, unknown>;
    return [before, after, prepared, file];
  });
  return `${change.host}\n${change.task}\n${JSON.stringify(diff)}`;
}
