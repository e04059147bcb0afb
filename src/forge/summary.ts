import type { PreviewView } from '../reconcile/previews.js';
import type { CommitState } from './requests.js';

/** Pure: what a preview says in one line, and the commit state it stands for. */

type PreviewTarget = PreviewView['targets'][number];

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "3 hosts would change, 1 unverified task", or what went wrong with the target's check. */
export function targetSummary(target: PreviewTarget): string {
  if (target.status !== 'succeeded') {
    const hosts = new Set(target.failures.map((f) => f.host)).size;
    return `the check ${target.status}${hosts > 0 ? ` on ${plural(hosts, 'host')}` : ''}`;
  }
  const parts = [];
  const changing = new Set(target.changes.map((c) => c.host)).size;
  parts.push(changing > 0 ? `${plural(changing, 'host')} would change` : 'no changes');
  const drifted = new Set(target.existingDrift.map((c) => c.host)).size;
  if (drifted > 0) parts.push(`${plural(drifted, 'host')} drifted already`);
  if (target.unverified.length > 0) parts.push(plural(target.unverified.length, 'unverified task'));
  return parts.join(', ');
}

/**
 * The preview in one line: "web: 3 hosts would change, 1 unverified task; db: no changes". A failed gate
 * comes first; a preview that never got to its targets (refused, ref not found) is its error.
 */
export function previewSummary(view: PreviewView): string {
  const gates = view.gates.filter((g) => !g.ok).map((g) => `gate ${g.gate} failed${g.exitCode === null ? '' : ` (exit ${g.exitCode})`}`);
  const targets = view.targets.map((t) => `${t.target}: ${targetSummary(t)}`);
  const parts = [...gates, ...targets];
  if (view.status === 'failed' && parts.length === 0) return view.error ?? 'the preview failed';
  if (view.status === 'cancelled') return view.supersededBy ? `superseded by ${view.supersededBy}` : (view.error ?? 'cancelled');
  if (parts.length === 0) return view.status === 'succeeded' ? 'no targets at this revision' : `preview ${view.status}`;
  const failedTarget = view.targets.some((t) => t.status !== 'succeeded');
  // A failure the parts do not show (the gates' own error, a check that could not start) leads.
  if (view.status === 'failed' && gates.length === 0 && !failedTarget && view.error) parts.unshift(view.error);
  return parts.join('; ');
}

/**
 * The commit status a preview stands for. The plan is information, not a verdict: a preview that ran
 * cleanly is `success` whatever it would change; `failure` is a preview that failed (or was refused).
 */
export function previewStatus(view: PreviewView): { state: CommitState; description: string } {
  switch (view.status) {
    case 'queued':
      return { state: 'pending', description: 'fleetcd preview queued' };
    case 'running':
      return { state: 'running', description: `fleetcd is checking ${view.revision?.slice(0, 12) ?? 'this commit'} against the fleet` };
    case 'succeeded':
      return { state: 'success', description: previewSummary(view) };
    case 'failed':
      return { state: 'failure', description: previewSummary(view) };
    case 'cancelled':
      return { state: 'cancelled', description: previewSummary(view) };
  }
}

/** Whether the preview has ended (its status will not change again). */
export function previewEnded(view: Pick<PreviewView, 'status'>): boolean {
  return view.status !== 'queued' && view.status !== 'running';
}
