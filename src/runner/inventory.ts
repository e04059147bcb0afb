import { execa } from 'execa';
import { FleetError } from '../errors.js';
import { neverStarted, spawnFailure } from './spawn-error.js';

/**
 * The host names an inventory yields, as Ansible itself reads it (folders, ranges, plugins, scripts):
 * `ansible-inventory --graph`, which names hosts without printing their variables (vaulted values included).
 */
export async function listInventoryHosts(
  cwd: string,
  inventory: string,
  vaultArgs: readonly string[],
  env: Record<string, string>,
  signal?: AbortSignal,
): Promise<string[]> {
  const result = await execa('ansible-inventory', ['-i', inventory, ...vaultArgs, '--graph'], {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
    maxBuffer: 64 * 1024 * 1024,
    cancelSignal: signal,
  });
  if (neverStarted(result)) throw new FleetError('runner', spawnFailure('ansible-inventory', result, env, cwd));
  if (result.exitCode !== 0) {
    const detail = String(result.stderr).trim().split('\n').slice(-5).join('\n');
    throw new FleetError('runner', `ansible-inventory -i ${inventory} failed: ${detail || `exit code ${result.exitCode}`}`);
  }
  return parseGraph(String(result.stdout));
}

/** Host lines of `ansible-inventory --graph` (`  |  |--web1`), without groups (`@web:`), each once. */
export function parseGraph(graph: string): string[] {
  const hosts = new Set<string>();
  for (const line of graph.split('\n')) {
    const match = /^[\s|]*--(.+)$/.exec(line);
    if (match?.[1] && !match[1].startsWith('@')) hosts.add(match[1].trim());
  }
  return [...hosts].sort();
}
