import type { RunSummary, TargetStatus } from './api.js';

/** How each target status reads: an icon and a word (colour only adds to them), and its rank, worst first. */
export const targetStatusLook: Record<TargetStatus, { icon: string; label: string; rank: number }> = {
  failed: { icon: '✕', label: 'failed', rank: 0 },
  unreachable: { icon: '⊘', label: 'unreachable', rank: 1 },
  drifted: { icon: '≠', label: 'drifted', rank: 2 },
  unknown: { icon: '?', label: 'unknown', rank: 3 },
  'in-sync': { icon: '✓', label: 'in sync', rank: 4 },
};

export const runStatusLook: Record<RunSummary['status'], { icon: string; tone: string }> = {
  queued: { icon: '…', tone: 'unknown' },
  running: { icon: '▶', tone: 'running' },
  succeeded: { icon: '✓', tone: 'in-sync' },
  failed: { icon: '✕', tone: 'failed' },
  'timed-out': { icon: '◷', tone: 'failed' },
  interrupted: { icon: '■', tone: 'unreachable' },
  cancelled: { icon: '□', tone: 'unknown' },
};

/** The suspended badge's icon. Every icon here is a character DejaVu Sans has (Debian's default font): the
 * media-control ones (⏹ ⏸ ⏱) render as empty boxes there. test/web/icons.test.ts holds them to it. */
export const suspendedIcon = '‖';

export const isLive = (status: RunSummary['status']): boolean => status === 'queued' || status === 'running';

export const shortSha = (sha: string): string => sha.slice(0, 8);

/**
 * A URL from outside data (a pull request's `html_url` in a webhook delivery) as an href, or undefined when it
 * is no absolute http(s) URL: `javascript:`, `data:` and the like must never become a link. Parsed the way the
 * browser will parse the href (leading blanks and control characters dropped, scheme in any case).
 */
export function webLink(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
}

/** "12 s ago", "5 min ago", "in 3 h": coarse on purpose; the exact time is in the element's title. */
export function relative(iso: string, now: number): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const seconds = Math.round((now - ms) / 1000);
  const past = seconds >= 0;
  const s = Math.abs(seconds);
  if (s < 5) return 'just now';
  const amount =
    s < 60 ? `${s} s` : s < 3600 ? `${Math.round(s / 60)} min` : s < 86_400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86_400)} d`;
  return past ? `${amount} ago` : `in ${amount}`;
}

/** A run's duration in seconds, or undefined before it started; a running run counts up to `now`. */
export function durationSeconds(run: RunSummary, now: number): number | undefined {
  if (!run.startedAt) return undefined;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now;
  return Math.max(0, (end - Date.parse(run.startedAt)) / 1000);
}

export function formatSeconds(seconds: number | undefined): string {
  if (seconds === undefined) return '—';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
