import { userInfo } from 'node:os';
import type { RunDetail } from '../api/schemas.js';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Fleet } from '../reconcile/fleet.js';
import { openFleet } from '../reconcile/open.js';
import { chainsExit } from './outcome.js';

/** What a reconcile in the foreground prints and hands back: the revision line, then every run of each chain. */
export type OneShotOutput = { revision(line: string): void; chains(chains: RunDetail[][]): void };

/**
 * `fleetcd check|apply [TARGET...]` without a daemon: one reconcile in the foreground, recorded in the same
 * database as the daemon's. `check` never applies; `apply` applies whatever the target's mode. Throws the
 * state directory lock's refusal (FleetError 'conflict') when another fleetcd owns it.
 */
export async function runOnce(config: Config, log: Logger, verb: 'check' | 'apply', targets: string[], out: OneShotOutput): Promise<number> {
  const { fleet, source, close } = await openFleet(config, log, verb);
  try {
    const revision = await source.fetch();
    fleet.useRevision(revision);
    const queued = fleet.reconcile(targets.length > 0 ? targets : undefined, { trigger: 'cli', mode: verb, requestedBy: `cli:${userInfo().username}` });
    // Only once the request is accepted: a refusal (suspended, outside the windows) is the whole answer.
    out.revision(`revision ${revision.sha} (${revision.ref}): ${revision.subject}`);
    await fleet.reconciler.idle();
    const chains = queued.map(({ id }) => followChain(fleet, id));
    out.chains(chains);
    return chainsExit(chains);
  } finally {
    close();
  }
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
