/** Something that runs for one key (a target) and says when it is over. */
export type KeyedJob = { readonly key: string; readonly done: Promise<void> };

/**
 * Per key, one job running and at most one waiting behind it; when the running one ends, the waiting one
 * moves up. Callers join a waiting job (see `joinable`) instead of adding another, so a burst of requests
 * for one key becomes at most two jobs. `run` must not throw.
 */
export class KeyedQueue<J extends KeyedJob> {
  private readonly slots = new Map<string, { running?: J; waiting?: J }>();

  constructor(private readonly run: (job: J) => Promise<void>) {}

  /** The job a new request for `key` joins: the waiting one, else the running one while `stillOpen` says so. */
  joinable(key: string, stillOpen: (job: J) => boolean): J | undefined {
    const slot = this.slots.get(key);
    if (slot?.waiting) return slot.waiting;
    return slot?.running && stillOpen(slot.running) ? slot.running : undefined;
  }

  /** Starts `job` now when its key is free, else makes it the waiting one (there must not be one already). */
  add(job: J): void {
    const slot = this.slots.get(job.key);
    if (!slot) {
      this.slots.set(job.key, { running: job });
      void this.drain(job.key);
      return;
    }
    if (slot.waiting) throw new Error(`${job.key} already has a waiting job`);
    slot.waiting = job;
  }

  /** Takes a job that is waiting out of the queue; false when it is not waiting (it runs, or is gone). */
  remove(job: J): boolean {
    const slot = this.slots.get(job.key);
    if (slot?.waiting !== job) return false;
    slot.waiting = undefined;
    return true;
  }

  isBusy(key: string): boolean {
    return this.slots.has(key);
  }

  /** Every job running or waiting. */
  jobs(): J[] {
    return [...this.slots.values()].flatMap((slot) => [slot.running, slot.waiting].filter((job): job is J => job !== undefined));
  }

  /** Resolves once no key has a job, including jobs added while waiting. */
  async idle(): Promise<void> {
    for (let jobs = this.jobs(); jobs.length > 0; jobs = this.jobs()) await Promise.all(jobs.map((job) => job.done));
  }

  private async drain(key: string): Promise<void> {
    for (let slot = this.slots.get(key); slot?.running; ) {
      await this.run(slot.running);
      slot.running = slot.waiting;
      slot.waiting = undefined;
    }
    this.slots.delete(key);
  }
}
