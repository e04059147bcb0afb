import type { z } from 'zod';
import type { eventPageSchema, RunSummary, TargetDetail } from '../api/schemas.js';
import type { ApiClient } from './client.js';
import { runTime } from './render/time.js';

type EventPage = z.infer<typeof eventPageSchema>;

/** What is known of a running run from its task results so far. */
export type RunProgress = {
  /** The cursor of the events read so far (the last event's id). */
  cursor: number;
  /** The newest task that reported, and the hosts that reported it. */
  task: string | undefined;
  hosts: Set<string>;
  tasks: number;
};

/** One target's progress in a line: "lab: run #43 apply running 12s · task 3 "Write config" 2/3 hosts". Pure. */
export function progressLine(target: string, run: RunSummary, progress: RunProgress | undefined, total: number | undefined, now: Date): string {
  const head = `${target}: run #${run.id} ${run.kind} ${run.status}${run.startedAt ? ` ${runTime(run, now)}` : ''}`;
  if (!progress?.task) return head;
  const done = total ? `${progress.hosts.size}/${total} hosts` : `${progress.hosts.size} host${progress.hosts.size === 1 ? '' : 's'}`;
  return `${head} · task ${progress.tasks} "${progress.task}" ${done}`;
}

/** Folds a page of task results into the progress of a run. */
export function advance(progress: RunProgress, events: EventPage['events']): RunProgress {
  for (const event of events) {
    if (event.task !== progress.task) {
      progress.task = event.task;
      progress.hosts = new Set();
      progress.tasks += 1;
    }
    progress.hosts.add(event.host);
    progress.cursor = event.id;
  }
  return progress;
}

/**
 * Live progress of the runs being waited for, on one line of a terminal (stderr) that is overwritten:
 * per target, the run, the task reporting now and how many hosts have done it. Reads the run's task results
 * page by page from where it left off (`after`).
 */
export class ProgressLine {
  private readonly lines = new Map<string, string>();
  private readonly runs = new Map<number, RunProgress>();
  private readonly totals = new Map<string, Promise<number | undefined>>();

  constructor(
    private readonly client: ApiClient,
    private readonly stream: NodeJS.WriteStream,
  ) {}

  async update(run: RunSummary): Promise<void> {
    const progress = this.runs.get(run.id) ?? { cursor: 0, task: undefined, hosts: new Set<string>(), tasks: 0 };
    this.runs.set(run.id, progress);
    if (run.status === 'running') await this.read(run.id, progress);
    const total = run.limit ? run.limit.split(',').length : await this.total(run.target);
    this.lines.set(run.target, progressLine(run.target, run, progress, total, new Date()));
    this.draw();
  }

  done(target: string): void {
    this.lines.delete(target);
    this.draw();
  }

  clear(): void {
    this.stream.write('\r\x1b[2K');
  }

  private async read(id: number, progress: RunProgress): Promise<void> {
    for (;;) {
      const after = progress.cursor > 0 ? `&after=${progress.cursor}` : '';
      const page = await this.client.get<EventPage>(`/api/v1/runs/${id}/events?limit=500${after}`);
      advance(progress, page.events);
      if (page.next === null) return;
    }
  }

  /** The target's host count as its newest runs saw them; unknown before its first run. */
  private total(target: string): Promise<number | undefined> {
    let total = this.totals.get(target);
    if (!total) {
      total = this.client
        .get<TargetDetail>(`/api/v1/targets/${encodeURIComponent(target)}`)
        .then((t) => t.hosts.length || undefined)
        .catch(() => undefined);
      this.totals.set(target, total);
    }
    return total;
  }

  private draw(): void {
    const text = [...this.lines.values()].join('  |  ');
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    this.stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
  }
}
