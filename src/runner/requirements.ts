import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { FleetError } from '../errors.js';
import { neverStarted, spawnFailure } from './spawn-error.js';

/** Where a revision's roles and collections from requirements.yml live, for ANSIBLE_ROLES/COLLECTIONS_PATH. */
export type InstalledRequirements = { rolesPath: string; collectionsPath: string } | undefined;

/**
 * Installs `requirements.yml` at the revision's repo path with ansible-galaxy into a folder bound to that
 * commit, once: a finished install leaves a marker and is reused; a failed one is removed so the next
 * attempt starts clean. Returns undefined when the revision has no requirements.yml.
 */
export async function installRequirements(
  root: string,
  sha: string,
  workDir: string,
  env: Record<string, string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<InstalledRequirements> {
  const file = join(root, 'requirements.yml');
  if (!existsSync(file)) return undefined;
  const dest = join(workDir, 'galaxy', sha);
  const installed = { rolesPath: join(dest, 'roles'), collectionsPath: join(dest, 'collections') };
  const marker = join(dest, '.installed');
  if (existsSync(marker)) return installed;
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest, { recursive: true });
  const sections = requirementSections(file);
  const run = async (args: string[]): Promise<void> => {
    const result = await execa('ansible-galaxy', args, {
      cwd: root,
      env,
      extendEnv: false,
      reject: false,
      timeout: timeoutMs,
      all: true,
      stdin: 'ignore',
      maxBuffer: 1024 * 1024,
      cancelSignal: signal,
      forceKillAfterDelay: 5000,
    });
    if (result.exitCode === 0 && !result.timedOut) return;
    rmSync(dest, { recursive: true, force: true });
    if (result.isCanceled) throw new FleetError('runner', 'requirements.yml: ansible-galaxy install stopped', { cause: signal?.reason });
    if (neverStarted(result)) throw new FleetError('runner', `requirements.yml: ${spawnFailure('ansible-galaxy', result, env, root)}`);
    const detail = (result.all ?? '').trim().split('\n').slice(-15).join('\n');
    throw new FleetError('runner', `requirements.yml: ansible-galaxy ${args[0]} install failed: ${result.timedOut ? 'timed out' : detail}`, {
      retryable: result.timedOut,
    });
  };
  if (sections.roles) await run(['role', 'install', '-r', file, '-p', installed.rolesPath]);
  if (sections.collections) await run(['collection', 'install', '-r', file, '-p', installed.collectionsPath]);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return installed;
}

/**
 * Removes the installed requirements of every revision not in `keep` (the revisions with a kept checkout, and
 * those in use): an install is only ever used with its checkout. The shas removed.
 */
export function pruneInstalls(workDir: string, keep: ReadonlySet<string>): string[] {
  const root = join(workDir, 'galaxy');
  if (!existsSync(root)) return [];
  const removed = readdirSync(root).filter((name) => !keep.has(name));
  for (const name of removed) rmSync(join(root, name), { recursive: true, force: true });
  return removed;
}

/** Which kinds of requirement the file lists: a plain list is roles (the old format). */
function requirementSections(file: string): { roles: boolean; collections: boolean } {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FleetError('runner', `requirements.yml: not valid YAML: ${(error as Error).message}`);
  }
  if (Array.isArray(doc)) return { roles: doc.length > 0, collections: false };
  if (doc && typeof doc === 'object') {
    const d = doc as Record<string, unknown>;
    return { roles: Array.isArray(d.roles) && d.roles.length > 0, collections: Array.isArray(d.collections) && d.collections.length > 0 };
  }
  return { roles: false, collections: false };
}
