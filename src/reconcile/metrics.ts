import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { runKinds, runStatuses, type RunSummary } from '../store/types.js';
import type { Fleet } from './fleet.js';
import { targetStatuses } from './status.js';
import type { TargetView } from './views.js';

/** The statuses a run can end with: every one is served (at 0 until it happens) for each target and kind. */
const endStatuses = runStatuses.filter((status) => status !== 'queued' && status !== 'running');

/** Seconds: a check of a few hosts takes seconds, an apply of a large inventory can take most of an hour. */
const durationBuckets = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/**
 * fleetcd's Prometheus metrics for one Fleet, in a registry of their own (two fleets in one process never
 * clash). Counters are fed by the fleet's events and live as long as the process; gauges are read from the
 * fleet at each scrape, so they are never stale and a removed target disappears.
 */
export class FleetMetrics {
  readonly registry = new Registry();
  private readonly runs: Counter<'target' | 'kind' | 'status'>;
  private readonly duration: Histogram<'target' | 'kind'>;
  private readonly targetStatus: Gauge<'target' | 'status'>;
  private readonly perTarget: Array<{ gauge: Gauge<'target'>; read: (view: TargetView) => number }>;
  private readonly revisionInfo: Gauge<'sha' | 'branch'>;
  private readonly lastFetchSuccess: Gauge;
  private readonly fetchErrors: Counter;
  private readonly queueDepth: Gauge;
  private readonly running: Gauge;
  /** target × kind pairs whose series were created at 0 (zeroing again would erase what was counted). */
  private readonly seeded = new Set<string>();
  private readonly unsubscribe: Array<() => void>;

  constructor(private readonly fleet: Fleet) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.runs = new Counter({ name: 'fleetcd_runs_total', help: 'Runs ended, by target, kind (check|apply) and final status', labelNames: ['target', 'kind', 'status'], registers });
    this.duration = new Histogram({
      name: 'fleetcd_run_duration_seconds',
      help: 'How long ended runs took, from start to end (runs that never started are not observed)',
      labelNames: ['target', 'kind'],
      buckets: durationBuckets,
      registers,
    });
    this.targetStatus = new Gauge({ name: 'fleetcd_target_status', help: "1 for the target's current status, 0 for the others", labelNames: ['target', 'status'], registers });
    const targetGauge = (name: string, help: string, read: (view: TargetView) => number) => ({
      gauge: new Gauge({ name, help, labelNames: ['target'], registers }),
      read,
    });
    this.perTarget = [
      targetGauge('fleetcd_target_hosts', 'Hosts of the target, as its newest conclusive runs saw them', (v) => v.hosts.total),
      targetGauge('fleetcd_target_drifted_hosts', 'Hosts whose newest check found changes', (v) => v.hosts.drifted),
      targetGauge('fleetcd_target_unreachable_hosts', 'Hosts the newest run could not reach', (v) => v.hosts.unreachable),
      targetGauge('fleetcd_target_failed_hosts', 'Hosts with a failed task in the newest run', (v) => v.hosts.failed),
      targetGauge('fleetcd_target_unverified_tasks', 'Tasks the newest check could not verify in check mode', (v) => v.coverage?.unverified.length ?? 0),
      targetGauge('fleetcd_target_non_idempotent_tasks', 'Tasks the verify check after the last apply still changed', (v) => v.nonIdempotentTasks.length),
      targetGauge('fleetcd_target_suspended', '1 while automatic runs of the target are suspended', (v) => (v.suspended ? 1 : 0)),
    ];
    this.revisionInfo = new Gauge({ name: 'fleetcd_source_revision_info', help: 'The revision in use (value 1)', labelNames: ['sha', 'branch'], registers });
    this.lastFetchSuccess = new Gauge({ name: 'fleetcd_source_last_fetch_success_timestamp_seconds', help: 'When a fetch of the source last succeeded (Unix time; 0 before the first)', registers });
    this.fetchErrors = new Counter({ name: 'fleetcd_source_fetch_errors_total', help: 'Fetch attempts of the source that failed (a held error counts at each poll)', registers });
    this.queueDepth = new Gauge({ name: 'fleetcd_queue_depth', help: 'ansible-playbook processes waiting for a slot under reconcile.concurrency', registers });
    this.running = new Gauge({ name: 'fleetcd_running_runs', help: 'ansible-playbook processes running', registers });
    this.unsubscribe = [fleet.changes.on('run-finished', ({ run }) => this.runEnded(run)), fleet.changes.on('fetched', ({ ok }) => this.fetched(ok))];
  }

  /** Every metric in Prometheus' text format, the gauges read from the fleet now. */
  async scrape(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }

  /** Stops counting the fleet's events. */
  close(): void {
    for (const off of this.unsubscribe) off();
  }

  private runEnded(run: RunSummary): void {
    const labels = { target: run.target, kind: run.kind };
    this.seed(run.target);
    this.runs.inc({ ...labels, status: run.status });
    if (!run.startedAt || !run.finishedAt) return;
    const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0) this.duration.observe(labels, seconds);
  }

  private fetched(ok: boolean): void {
    if (ok) this.lastFetchSuccess.set(Date.now() / 1000);
    else this.fetchErrors.inc();
  }

  /** The gauges from one status read (a few queries whatever the number of targets). */
  private refresh(): void {
    const status = this.fleet.status();
    this.targetStatus.reset();
    for (const { gauge } of this.perTarget) gauge.reset();
    for (const view of status.targets) {
      this.seed(view.name);
      for (const name of targetStatuses) this.targetStatus.set({ target: view.name, status: name }, name === view.status ? 1 : 0);
      for (const { gauge, read } of this.perTarget) gauge.set({ target: view.name }, read(view));
    }
    this.revisionInfo.reset();
    if (status.revision) this.revisionInfo.set({ sha: status.revision.sha, branch: status.revision.branch }, 1);
    const load = this.fleet.reconciler.load();
    this.queueDepth.set(load.queued);
    this.running.set(load.running);
  }

  /**
   * Serves a target's run series at 0 before its first run ends: `increase()` sees the first failure, which a
   * series born at 1 would hide.
   */
  private seed(target: string): void {
    for (const kind of runKinds) {
      const key = `${target}\0${kind}`;
      if (this.seeded.has(key)) continue;
      this.seeded.add(key);
      for (const status of endStatuses) this.runs.inc({ target, kind, status }, 0);
      this.duration.zero({ target, kind });
    }
  }
}
