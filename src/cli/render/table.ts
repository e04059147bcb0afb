import { plain, type Style, visibleWidth } from './style.js';

/** Aligned columns: a bold header row, then one row per item; cells may carry colour. */
export function table(header: readonly string[], rows: readonly string[][], style: Style = plain, indent = ''): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => visibleWidth(row[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    (indent + cells.map((cell, i) => cell + ' '.repeat(Math.max(0, (widths[i] ?? 0) - visibleWidth(cell)))).join('  ')).trimEnd();
  return [style.bold(line(header)), ...rows.map(line)];
}

/** Label/value lines with the values aligned; pairs whose value is null or undefined are left out. */
export function fields(pairs: ReadonlyArray<readonly [string, string | null | undefined]>, indent = '  '): string[] {
  const shown = pairs.filter((pair): pair is readonly [string, string] => pair[1] !== null && pair[1] !== undefined);
  const width = Math.max(0, ...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`.trimEnd());
}
