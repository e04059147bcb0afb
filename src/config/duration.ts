/**
 * Durations as people write them in the config (`90s`, `15m`, `1h30m`), in milliseconds for the code.
 * Units go largest first, each at most once, so a typo such as `15mm` or `30m1h` is an error rather than a
 * surprising sum.
 */
const units = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
] as const;

const durationPattern = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Milliseconds in `text` (`500ms`, `90s`, `15m`, `2h`, `1d`, `1h30m`), or undefined when it is not such a
 * duration: a bad value is an expected input here, so callers get a result to check rather than an exception.
 */
export function parseDuration(text: string): number | undefined {
  if (text === '') return undefined;
  const match = durationPattern.exec(text);
  if (!match) return undefined;
  let total = 0;
  units.forEach(([, size], index) => {
    const digits = match[index + 1];
    if (digits !== undefined) total += Number(digits) * size;
  });
  return Number.isSafeInteger(total) ? total : undefined;
}

/** `ms` in the same notation parseDuration reads (`1h30m`, `500ms`, `0s`), for messages and logs. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  let rest = Math.round(ms);
  if (rest === 0) return '0s';
  let text = '';
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    if (count === 0) continue;
    text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}
