import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import { openFleet } from '../reconcile/open.js';
import type { RunDetail } from '../store/types.js';
import { renderRun } from './render.js';

export const exitCodes = { inSync: 0, error: 1, drift: 2, config: 78 } as const;

/**
 * `fleetcd check|apply [TARGET...]`: one reconcile in the foreground, recorded in the same database as the
 * daemon's. `check` never applies; `apply` applies whatever the target's mode.
 */
export async function runOnce(
  config: Config,
  log: Logger,
  verb: 'check' | 'apply',
  targets: string[],
  print: (text: string) => void,
): Promise<number> {
  const { fleet, source, close } = await openFleet(config, log, verb);
  try {
    const revision = await source.fetch();
    print(`revision ${revision.sha} (${revision.ref}): ${revision.subject}`);
    fleet.useRevision(revision);
    const queued = fleet.reconcile(targets.length > 0 ? targets : undefined, { trigger: 'cli', mode: verb });
    await fleet.reconciler.idle();
    let exit: number = exitCodes.inSync;
    for (const { id } of queued) {
      const chain = followChain(fleet, id);
      for (const run of chain) print(renderRun(run));
      exit = worse(exit, chainExit(chain));
    }
    return exit;
  } finally {
    close();
  }
}

/** Error outranks drift, drift outranks in sync. */
function worse(a: number, b: number): number {
  const rank = (code: number): number => (code === exitCodes.error ? 2 : code === exitCodes.drift ? 1 : 0);
  return rank(a) >= rank(b) ? a : b;
}

function followChain(fleet: Fleet, firstId: number): RunDetail[] {
  const chain: RunDetail[] = [];
  for (let id: number | null = firstId; id !== null; ) {
    const run: RunDetail = fleet.run(id);
    chain.push(run);
    id = run.followedBy;
  }
  return chain;
}

/** 1 for any failure or unreachable host, 2 when the last word of the chain is a check that found drift. */
function chainExit(chain: RunDetail[]): number {
  if (chain.some((run) => run.status !== 'succeeded' || run.summary.failed > 0 || run.summary.unreachable > 0)) {
    return exitCodes.error;
  }
  const last = chain.at(-1);
  return last?.kind === 'check' && last.summary.changed > 0 ? exitCodes.drift : exitCodes.inSync;
}
