import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Config, Mode, Precheck, TargetOverrides } from '../config/index.js';
import { isInside } from '../source/index.js';
import type { GateSpec } from './policy-gates.js';
import type { WindowSpec } from './windows.js';

/** When and how a target is reconciled: the config's globals with the target's overrides applied. */
export type TargetPolicy = {
  intervalMs: number;
  /** Share of the interval by which scheduled checks are spread (0.1 = ±5 %). */
  jitter: number;
  retry: { limit: number; initialDelayMs: number; maxDelayMs: number };
  applyWindows: readonly WindowSpec[];
  dependsOn: readonly string[];
  soakMs: number;
  /** Policy gates every apply of a revision waits on: the global ones, then the target's own. */
  gates: readonly GateSpec[];
  /** Whether a new revision is checked before it is applied (`auto`: only when something needs the check). */
  precheck: Precheck;
};

/** A target as found in one revision: an inventory, with the config's overrides applied. */
export type Target = {
  name: string;
  mode: Mode;
  policy: TargetPolicy;
  /** Absolute inventory path inside the revision, or undefined when the revision has none for this name. */
  inventory?: string;
  playbook: string;
  overrides: TargetOverrides;
  /** Why this target cannot run at this revision (missing inventory, a path escaping the checkout). */
  problem?: string;
};

const inventoryFile = /^(.+)\.(ya?ml|ini)$/;
export const defaultPlaybook = 'playbooks/site.yml';

/**
 * Target names found under `<root>/inventories`: each folder, and each .yml/.yaml/.ini file, is one target.
 */
export function discoverInventories(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const dir = join(root, 'inventories');
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(path))) {
      found.set(entry.name, path);
      continue;
    }
    const match = inventoryFile.exec(entry.name);
    if (match?.[1] && !found.has(match[1])) found.set(match[1], path);
  }
  return found;
}

/** Every target of a revision, in name order: inventories found plus any the config names. */
export function resolveTargets(config: Config, root: string | undefined): Target[] {
  const inventories = root ? discoverInventories(root) : new Map<string, string>();
  const names = new Set([...inventories.keys(), ...Object.keys(config.targets)]);
  return [...names].sort().map((name) => resolveTarget(config, root, name, inventories.get(name)));
}

function resolveTarget(config: Config, root: string | undefined, name: string, inventory?: string): Target {
  const overrides = config.targets[name] ?? {};
  const playbookPath = overrides.playbook ?? defaultPlaybook;
  const base: Target = {
    name,
    mode: overrides.mode ?? config.reconcile.mode,
    policy: policyOf(config, overrides),
    playbook: root ? join(root, playbookPath) : playbookPath,
    overrides,
  };
  if (!root) return { ...base, problem: 'no revision has been fetched yet' };
  if (!inventory) return { ...base, problem: `no inventories/${name}/ or inventories/${name}.yml|.ini in this revision` };
  const outside = escapes(root, inventory) ?? escapes(root, base.playbook);
  if (outside) return { ...base, inventory, problem: outside };
  if (!existsSync(base.playbook)) {
    return { ...base, inventory, problem: `playbook ${playbookPath} does not exist in this revision` };
  }
  return { ...base, inventory };
}

export function policyOf(config: Config, overrides: TargetOverrides): TargetPolicy {
  const global = config.reconcile;
  return {
    intervalMs: overrides.intervalMs ?? global.intervalMs,
    jitter: overrides.jitter ?? global.jitter,
    retry: { ...global.retry, ...overrides.retry },
    applyWindows: overrides.applyWindows ?? global.applyWindows,
    dependsOn: overrides.dependsOn ?? [],
    soakMs: overrides.soakMs ?? 0,
    gates: [...config.gates, ...(overrides.gates ?? [])],
    precheck: overrides.precheck ?? global.precheck,
  };
}

/** A message if `path` (after following symlinks) is outside `root`, so a commit cannot read the host's files. */
export function escapes(root: string, path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const real = realpathSync(path);
  if (!isInside(realpathSync(root), real)) {
    return `${relative(root, path)} resolves outside the repository checkout (to ${real}); refusing to use it`;
  }
  return undefined;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
