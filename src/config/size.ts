/**
 * Sizes as people write them in the config (`512KB`, `50MB`, `1GB`), in bytes for the code. The units are
 * powers of 1024, as `du -h` and most operators mean them; one unit, no spaces, no fractions.
 */
const units = { KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as const;

const sizePattern = /^(\d+)(KB|MB|GB)$/;

/** Bytes in `text`, or undefined when it is not such a size (callers check the result, as with durations). */
export function parseSize(text: string): number | undefined {
  const match = sizePattern.exec(text);
  if (!match) return undefined;
  const bytes = Number(match[1]) * units[match[2] as keyof typeof units];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** `bytes` for people (`100 B`, `64.0 KiB`, `123.4 MiB`): the IEC names say these are powers of 1024. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const [unit, size] = bytes < 1024 ** 2 ? ['KiB', 1024] : bytes < 1024 ** 3 ? ['MiB', 1024 ** 2] : ['GiB', 1024 ** 3];
  return `${(bytes / size).toFixed(1)} ${unit}`;
}
