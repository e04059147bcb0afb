import type { RunDetail } from '../api/schemas.js';

/**
 * Exit codes of the verbs that run or wait for a reconcile, after `terraform plan -detailed-exitcode`:
 * 0 in sync (or applied cleanly), 2 drift left, 1 a failure or any error; 78 (EX_CONFIG) a config `serve`
 * cannot use, so systemd does not restart it in a loop.
 */
export const exitCodes = { inSync: 0, error: 1, drift: 2, config: 78 } as const;

/** The umask of every fleetcd process that writes the state directory: files 0640, folders 0750. */
export const stateUmask = 0o027;

/** Run statuses after which nothing more happens to a run. */
export const finishedStatuses: ReadonlySet<string> = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

/** Error outranks drift, drift outranks in sync. */
export function worse(a: number, b: number): number {
  const rank = (code: number): number => (code === exitCodes.error ? 2 : code === exitCodes.drift ? 1 : 0);
  return rank(a) >= rank(b) ? a : b;
}

/** 1 for any run that did not succeed or any failed or unreachable host, 2 when the chain ends in a check that found drift. */
export function chainExit(chain: readonly RunDetail[]): number {
  if (chain.some((run) => run.status !== 'succeeded' || run.summary.failed > 0 || run.summary.unreachable > 0)) {
    return exitCodes.error;
  }
  const last = chain.at(-1);
  return last?.kind === 'check' && last.summary.changed > 0 ? exitCodes.drift : exitCodes.inSync;
}

/** The exit code of several chains: the worst of them. */
export function chainsExit(chains: ReadonlyArray<readonly RunDetail[]>): number {
  return chains.reduce<number>((code, chain) => worse(code, chainExit(chain)), exitCodes.inSync);
}
