import { Cron } from 'croner';

/** A maintenance window as configured: applies may start from each time `cron` names until `durationMs` later. */
export type WindowSpec = { cron: string; durationMs: number; timezone: string };

/** Where `now` is with respect to a target's windows. */
export type WindowState =
  | { open: true; closesAt?: Date }
  | { open: false; opensAt: Date | undefined; window: WindowSpec | undefined };

const compiled = new Map<string, Cron>();

function cronOf(window: WindowSpec): Cron {
  const key = `${window.timezone}\n${window.cron}`;
  let cron = compiled.get(key);
  if (!cron) {
    cron = new Cron(window.cron, { timezone: window.timezone, paused: true });
    compiled.set(key, cron);
  }
  return cron;
}

/**
 * Whether applies may start at `now`: always with no windows; otherwise when some window started within its
 * duration before `now` (then `closesAt` is the latest close), else the next start of any window. Pure but for
 * the cron arithmetic, which is a function of its inputs.
 */
export function windowState(windows: readonly WindowSpec[], now: Date): WindowState {
  if (windows.length === 0) return { open: true };
  let closesAt: Date | undefined;
  let next: { at: Date; window: WindowSpec } | undefined;
  for (const window of windows) {
    const cron = cronOf(window);
    // previousRuns looks strictly before its date: one ms later takes in a window that starts exactly now.
    const [start] = cron.previousRuns(1, new Date(now.getTime() + 1));
    if (start && start.getTime() + window.durationMs > now.getTime()) {
      const end = new Date(start.getTime() + window.durationMs);
      if (!closesAt || end > closesAt) closesAt = end;
    }
    const opens = cron.nextRun(now);
    if (opens && (!next || opens < next.at)) next = { at: opens, window };
  }
  if (closesAt) return { open: true, closesAt };
  return { open: false, opensAt: next?.at, window: next?.window };
}

/** "0 2 * * 1-5 (Europe/Berlin), 2h" — how a window is named in messages. */
export function describeWindow(window: WindowSpec): string {
  const hours = window.durationMs / 3_600_000;
  const minutes = window.durationMs / 60_000;
  const length = Number.isInteger(hours) ? `${hours}h` : minutes >= 1 ? `${Math.round(minutes)}m` : `${Math.round(window.durationMs / 1000)}s`;
  return `"${window.cron}" (${window.timezone}) for ${length}`;
}

/** Outside every window at `now`: the sentence a waiting apply shows, and when the next window opens. */
export function outsideWindows(windows: readonly WindowSpec[], now: Date): { detail: string; opensAt?: Date } | undefined {
  const state = windowState(windows, now);
  if (state.open) return undefined;
  const next = state.opensAt ? `; the next opens at ${state.opensAt.toISOString()}` : '';
  const which = state.window ? ` (${describeWindow(state.window)})` : '';
  return { detail: `outside the apply windows${next}${which}`, ...(state.opensAt ? { opensAt: state.opensAt } : {}) };
}
