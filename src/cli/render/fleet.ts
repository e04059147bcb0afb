import type { StatusView, TargetDetail, TargetView } from '../../api/schemas.js';
import { plainLook, runMention, type Look } from './run.js';
import { statusWord } from './style.js';
import { fields, table } from './table.js';
import { ago } from './time.js';

/** The fleet as the daemon sees it: the revision in use, the source, the config, a row per target, problems. */
export function renderStatus(status: StatusView, look: Look = plainLook()): string {
  const { style, now } = look;
  const revision = status.revision;
  const lines = fields(
    [
      ['revision', revision ? `${revision.sha.slice(0, 12)} (${revision.branch}) ${revision.subject}` : 'none fetched yet'],
      ['fetched', revision ? `${ago(revision.fetchedAt, now)} (last fetch ${ago(status.source.lastFetchAt, now)})` : null],
      ['source error', status.source.error ? style.red(status.source.error) : null],
      ['config', `${status.config.file} (loaded ${ago(status.config.loadedAt, now)})`],
    ],
    '',
  );
  lines.push('', ...renderTargets(status.targets, look).split('\n'));
  const problems = status.targets.filter((t) => t.problem);
  if (problems.length > 0) lines.push('', 'problems:', ...problems.map((t) => `  ${t.name}: ${t.problem}`));
  return lines.join('\n');
}

/** One aligned row per target: status, mode, controls, revision, ages of the last check and apply, drift, waits. */
export function renderTargets(targets: readonly TargetView[], look: Look = plainLook()): string {
  const { style, now } = look;
  const rows = targets.map((t) => [
    t.name,
    statusWord(t.status, style),
    t.mode,
    stateOf(t),
    revisionCell(t),
    ago(t.lastCheckAt, now),
    ago(t.lastApplyAt, now),
    hostCounts(t),
    t.waiting ? `${t.waiting.reason}${t.waiting.until ? ` (${ago(t.waiting.until, now)})` : ''}` : '-',
  ]);
  const header = ['TARGET', 'STATUS', 'MODE', 'STATE', 'REVISION', 'CHECKED', 'APPLIED', 'DRIFTED', 'WAITING'];
  return table(header, rows, style).join('\n');
}

/** One target: its view, what holds it (suspension, hold, wait, retry), what it shares, then its hosts. */
export function renderTarget(t: TargetDetail, look: Look = plainLook()): string {
  const { style, now } = look;
  const state = stateOf(t);
  const head = `${style.bold(t.name)}: ${statusWord(t.status, style)} (mode ${t.mode}${state === '-' ? '' : `, ${state}`})`;
  const commit = t.revision;
  const lines = [
    head,
    ...fields([
      ['revision', commit ? describeCommit(commit, now) : t.checkedRevision ? 'none applied yet' : null],
      ['checking', checking(t) ? describeCommit(t.checkedRevision!, now) : null],
      ['last run', t.lastRun ? runMention(t.lastRun, look) : null],
      ['last check', t.lastCheckAt ? ago(t.lastCheckAt, now) : null],
      ['last apply', t.lastApplyAt ? ago(t.lastApplyAt, now) : null],
      ['problem', t.problem ? style.red(t.problem) : null],
      ['suspended', t.suspension ? `by ${t.suspension.by} ${ago(t.suspension.at, now)}${reason(t.suspension.reason)}` : null],
      ['held', t.held ? `at ${t.held.revision.slice(0, 12)} by ${t.held.by} ${ago(t.held.at, now)}${reason(t.held.reason)}` : null],
      ['waiting', t.waiting ? `${t.waiting.reason}: ${t.waiting.detail}${t.waiting.until ? ` (until ${t.waiting.until}, ${ago(t.waiting.until, now)})` : ''}` : null],
      ['retry', t.retry ? `attempt ${t.retry.attempt}${t.retry.nextAt ? `, next ${ago(t.retry.nextAt, now)}` : ''}` : null],
      ['shared hosts', t.sharedHosts.length > 0 ? t.sharedHosts.join(', ') : null],
      ['not idempotent', t.nonIdempotentTasks.length > 0 ? t.nonIdempotentTasks.join('; ') : null],
      ['coverage', t.coverage?.text ?? null],
    ]),
  ];
  if (t.hosts.length === 0) return [...lines, '  no host has been in a run yet'].join('\n');
  const rows = t.hosts.map((h) => [h.name, statusWord(h.status, style), String(h.changedTasks)]);
  return [...lines, '', ...table(['HOST', 'STATUS', 'CHANGED TASKS'], rows, style, '  ')].join('\n');
}

/** What the target runs, and what its newest check is at when that is another revision: "6a67216… (checking 0e71c1b…)". */
function revisionCell(t: TargetView): string {
  const running = t.revision?.sha.slice(0, 12) ?? '-';
  return checking(t) ? `${running} (checking ${t.checkedRevision!.sha.slice(0, 12)})` : running;
}

/** Whether the newest check is at a revision the target does not run (a new one checked, or waiting to apply). */
function checking(t: Pick<TargetView, 'revision' | 'checkedRevision'>): boolean {
  return t.checkedRevision !== null && t.checkedRevision.sha !== t.revision?.sha;
}

function describeCommit(commit: NonNullable<TargetView['revision']>, now: Date): string {
  const by = commit.author ? `(${commit.author}, ${ago(commit.committedAt, now)})` : '';
  return [commit.sha.slice(0, 12), commit.subject, by].filter(Boolean).join(' ');
}

/** "running, suspended, held", or "-". */
function stateOf(t: Pick<TargetView, 'running' | 'suspended' | 'held'>): string {
  const states = [t.running && 'running', t.suspended && 'suspended', t.held && 'held'].filter(Boolean);
  return states.length > 0 ? states.join(', ') : '-';
}

/** "1/3", with unreachable and failed hosts when there are any. */
function hostCounts(t: TargetView): string {
  const { total, drifted, unreachable, failed } = t.hosts;
  const extra = [unreachable > 0 && `${unreachable} unreachable`, failed > 0 && `${failed} failed`].filter(Boolean);
  return `${drifted}/${total}${extra.length > 0 ? `, ${extra.join(', ')}` : ''}`;
}

function reason(text: string | null): string {
  return text ? `: ${text}` : '';
}
