import { setTimeout as sleep } from 'node:timers/promises';
import type { QueuedRuns, RunDetail } from '../api/schemas.js';
import type { ApiClient } from './client.js';
import type { Cli } from './context.js';
import { chainsExit, finishedStatuses } from './outcome.js';
import { ProgressLine } from './progress.js';
import { renderRun } from './render/run.js';

/** How often a run is read again while it is queued or running. */
export const pollMs = 500;

/**
 * Follows each queued run's chain (check → apply → verify check) on the daemon, reading the run every
 * 500 ms and moving on through `followedBy`, until a finished run links to nothing more. On a terminal,
 * progress goes to stderr meanwhile.
 */
export async function followChains(client: ApiClient, queued: QueuedRuns['runs'], progress?: ProgressLine): Promise<RunDetail[][]> {
  const ids = [...new Set(queued.map((q) => q.id))];
  try {
    return await Promise.all(ids.map((id) => followChain(client, id, progress)));
  } finally {
    progress?.clear();
  }
}

async function followChain(client: ApiClient, firstId: number, progress: ProgressLine | undefined): Promise<RunDetail[]> {
  const chain: RunDetail[] = [];
  for (let id: number | null = firstId; id !== null; ) {
    const run: RunDetail = await client.get<RunDetail>(`/api/v1/runs/${id}`);
    if (finishedStatuses.has(run.status)) {
      chain.push(run);
      id = run.followedBy;
      continue;
    }
    await progress?.update(run);
    await sleep(pollMs);
  }
  const last = chain.at(-1);
  if (last) progress?.done(last.target);
  return chain;
}

/** Prints every run of each chain (or, with --json, `{"runs": [...]}`) and returns the verbs' exit code. */
export function reportChains(cli: Cli, chains: RunDetail[][], json: boolean): number {
  if (json) cli.printJson({ runs: chains.flat() });
  else if (chains.length > 0) {
    const look = cli.look();
    cli.print(chains.flat().map((run) => renderRun(run, look)).join('\n\n'));
  }
  return chainsExit(chains);
}

/** Waits for the chains of these queued runs and reports them: what `--wait` and check/apply via a daemon do. */
export async function waitAndReport(cli: Cli, client: ApiClient, queued: QueuedRuns['runs'], json: boolean): Promise<number> {
  const progress = process.stderr.isTTY ? new ProgressLine(client, process.stderr) : undefined;
  return reportChains(cli, await followChains(client, queued, progress), json);
}
