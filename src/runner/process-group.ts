import { signalGroup } from './process-identity.js';

/** Process groups this process started and has not yet seen end (runs and gates), for a crash to take along. */
const liveGroups = new Set<number>();

/**
 * SIGKILLs every process group this daemon still has running. Called on a fatal error just before the process
 * exits: a child group outlives its parent (it is detached on purpose), and the next start must not find
 * an ansible-playbook writing to hosts that no record follows any more. Returns the groups it signalled.
 */
export function killLiveGroups(): number[] {
  const killed = [...liveGroups].filter((pgid) => signalGroup(pgid, 'SIGKILL'));
  liveGroups.clear();
  return killed;
}

export type GroupOptions = {
  timeoutMs: number;
  /** How long a stopped group gets between SIGTERM and SIGKILL. */
  killGraceMs: number;
  signal?: AbortSignal;
};

/**
 * Owns the process group of a child spawned `detached` (its own group, its pid the group id): stops the whole
 * group — SIGTERM, then SIGKILL after the grace — on timeout, on abort, or when `stop()` is called, and kills
 * whatever is left in it at `end()`. Killing the leader alone is not enough: a grandchild (a backgrounded
 * `sleep`, an ssh client) keeps the output pipes open, and whoever waits for them waits for it.
 */
export class GroupSupervisor {
  timedOut = false;
  cancelled = false;
  private ended = false;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly timeout: NodeJS.Timeout;
  private readonly onAbort = (): void => {
    this.cancelled = true;
    this.stop();
  };

  constructor(
    readonly pgid: number | undefined,
    private readonly options: GroupOptions,
  ) {
    if (pgid) liveGroups.add(pgid);
    this.timeout = setTimeout(() => {
      this.timedOut = true;
      this.stop();
    }, options.timeoutMs);
    if (options.signal?.aborted) this.onAbort();
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** SIGTERM to the group now, SIGKILL after the grace (once, however often it is called). */
  stop(): void {
    if (this.ended) return;
    signalGroup(this.pgid, 'SIGTERM');
    this.killTimer ??= setTimeout(() => signalGroup(this.pgid, 'SIGKILL'), this.options.killGraceMs);
  }

  /** The leader has ended: clears the timers and kills what it left in its group (once: the id may be reused). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timeout);
    if (this.killTimer) clearTimeout(this.killTimer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
    signalGroup(this.pgid, 'SIGKILL');
    if (this.pgid) liveGroups.delete(this.pgid);
  }
}
