/** Vocabulary of the record: these strings are part of the API contract. */
export const runKinds = ['check', 'apply'] as const;
export type RunKind = (typeof runKinds)[number];

export const triggers = ['startup', 'schedule', 'commit', 'api', 'cli'] as const;
export type Trigger = (typeof triggers)[number];

export const runStatuses = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'timed-out',
  'interrupted',
  'cancelled',
] as const;
export type RunStatus = (typeof runStatuses)[number];

/** Statuses a run never leaves. */
export const finalStatuses: readonly RunStatus[] = ['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled'];

export type Counts = { ok: number; changed: number; failed: number; unreachable: number; skipped: number };
export type HostRecap = Counts & { rescued: number; ignored: number };

export type RunSummary = {
  id: number;
  target: string;
  kind: RunKind;
  trigger: Trigger;
  revision: string;
  status: RunStatus;
  limit: string | null;
  queuedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  error: string | null;
  followedBy: number | null;
  summary: Counts & { hosts: number };
};

export const taskStatuses = ['ok', 'changed', 'failed', 'skipped', 'unreachable'] as const;
export type TaskStatus = (typeof taskStatuses)[number];

/** One host's result of one task, as the runner hands it to the store. */
export type TaskResult = {
  host: string;
  task: string;
  module: string | null;
  path: string | null;
  status: TaskStatus;
  durationMs: number | null;
  message: string | null;
  diff: unknown[] | null;
  truncated: boolean;
  censored: boolean;
  ignored: boolean;
  /** A failure that a block's rescue section handled. */
  rescued: boolean;
  /** Set when this result says nothing about drift, with the reason (see runner/events.ts). */
  unverified: string | null;
};

/** How much of a check run could actually be evaluated in check mode. */
export type Coverage = {
  tasks: number;
  verified: number;
  unverified: Array<{ task: string; reason: string }>;
  /** "drift checked on 41 of 44 tasks; 3 unverifiable: …" */
  text: string;
};

export type RunDetail = RunSummary & {
  hosts: Array<{ host: string } & HostRecap>;
  changes: Array<{ host: string; task: string; module: string | null; diff: unknown[] | null }>;
  failures: Array<{ host: string; task: string; message: string | null }>;
  coverage: Coverage | null;
};

/** Whether a fetched tip may run: `refused` tips (bad signature, a path escaping the checkout) never do. */
export type RevisionStatus = 'accepted' | 'refused';

/** One tip of the watched ref as the daemon saw it; a force-push back to an old commit is a new entry. */
export type RevisionRecord = {
  sha: string;
  subject: string;
  author: string;
  committedAt: string;
  firstSeenAt: string;
  status: RevisionStatus;
  reason?: string;
  /** Set only when the new tip is known not to descend from the previous one (a force-push). */
  forced?: true;
};

export type RevisionInput = Omit<RevisionRecord, 'firstSeenAt'>;

/** What a source history is kept per: the repository (credentials stripped) and the branch or pinned revision. */
export type SourceKey = { url: string; ref: string };
