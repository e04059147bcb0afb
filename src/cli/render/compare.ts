import type { Comparison } from '../../api/schemas.js';
import { plainLook, type Look } from './run.js';
import { ago } from './time.js';

type Side = Comparison['from'];
type Listed = Comparison['ahead'][number];

/** `fleetcd compare`: each side's revision, the answer in a sentence, then the commits each way with their files. */
export function renderComparison(c: Comparison, look: Look = plainLook()): string {
  const { style } = look;
  const lines = [side(c.from, look), side(c.to, look), '', c.diverged ? style.red(c.summary) : style.bold(c.summary)];
  if (c.ahead.length > 0) lines.push('', `${c.from.target} runs, ${c.to.target} does not:`, ...c.ahead.flatMap((commit) => listed(commit, look)));
  if (c.behind.length > 0) lines.push('', `${c.to.target} runs, ${c.from.target} does not:`, ...c.behind.flatMap((commit) => listed(commit, look)));
  return lines.join('\n');
}

function side({ target, revision }: Side, { style }: Look): string {
  return `${style.bold(target)} runs ${revision.sha.slice(0, 12)}${revision.subject ? ` ${revision.subject}` : ''}`;
}

function listed(commit: Listed, { now }: Look): string[] {
  const head = `  ${commit.sha.slice(0, 12)}  ${commit.subject}  (${commit.author}, ${ago(commit.committedAt, now)})`;
  const more = commit.moreFiles > 0 ? [`      … and ${commit.moreFiles} more files`] : [];
  return [head, ...commit.files.map((file) => `      ${file}`), ...more];
}
