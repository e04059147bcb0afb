/** Times as people read them in a terminal: "3m ago", "in 2h", "took 12s". Pure: `now` is a parameter. */

/** A duration in its largest two units: 850ms, 12s, 3m 4s, 1h 2m, 2d 5h. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const first = units.findIndex(([, size]) => s >= size);
  const [bigName, bigSize] = units[first]!;
  const [smallName, smallSize] = units[first + 1]!;
  const big = Math.floor(s / bigSize);
  const small = Math.floor((s % bigSize) / smallSize);
  return small > 0 ? `${big}${bigName} ${small}${smallName}` : `${big}${bigName}`;
}

/** How long ago (or in how long) `iso` is from `now`, coarsely: "just now", "3m ago", "in 2h". */
export function ago(iso: string | null | undefined, now: Date): string {
  if (!iso) return '-';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const diff = now.getTime() - at;
  if (Math.abs(diff) < 1000) return 'just now';
  const coarse = duration(Math.abs(diff)).split(' ')[0]!;
  return diff > 0 ? `${coarse} ago` : `in ${coarse}`;
}

/** How long a run took, or has been running; undefined before it started. */
export function runTime(run: { startedAt: string | null; finishedAt: string | null }, now: Date): string | undefined {
  if (!run.startedAt) return undefined;
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now.getTime();
  return duration(end - Date.parse(run.startedAt));
}
