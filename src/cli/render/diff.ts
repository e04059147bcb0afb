import { plain, type Style } from './style.js';

export { renderDiff } from '../../unified-diff.js';

/** A diff line in its colour: removed red, added green, hunk headers cyan, file names bold. */
export function diffLine(line: string, style: Style = plain): string {
  if (line.startsWith('--- ') || line.startsWith('+++ ')) return style.bold(line);
  if (line.startsWith('@@')) return style.cyan(line);
  if (line.startsWith('+')) return style.green(line);
  if (line.startsWith('-')) return style.red(line);
  return line;
}
