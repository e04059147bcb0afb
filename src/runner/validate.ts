import { join } from 'node:path';
import { execa } from 'execa';
import { FleetError } from '../errors.js';
import { readRepoAnsibleCfg } from './ansible-cfg.js';
import { vaultArgv, type RunSpec } from './argv.js';
import { ansibleEnv, type SshSettings } from './env.js';
import { neverStarted, spawnFailure } from './spawn-error.js';

/**
 * Checks of a fleet repository's working copy without running a play (`fleetcd validate`): what Ansible
 * says of an inventory and of a playbook's syntax, run where the daemon would run them (the repo path, so
 * its ansible.cfg applies), with the daemon's allow-listed environment and vault passwords.
 */

/** What a check found: `output` is Ansible's complaint (the tail of its output) when not ok. */
export type Validation = { ok: boolean; output: string };
/** The vault passwords of the config, so vaulted inventories and vars files are read as the daemon reads them. */
export type Vault = Pick<RunSpec, 'vaultPasswordFile' | 'vaultIds'>;

const outputLines = 20;

/** The environment of a validation in `cwd`: the daemon's allow-list and settings, private dirs under `workDir`. */
export function validationEnv(cwd: string, workDir: string, ssh: SshSettings): Record<string, string> {
  const env = ansibleEnv(process.env, { ...ssh, controlPathDir: join(workDir, 'ssh'), localTempDir: join(workDir, 'tmp') }, readRepoAnsibleCfg(cwd));
  // No event pipe: nothing runs, and the callback writes nothing without one.
  delete env.FLEETCD_EVENT_FD;
  return env;
}

/**
 * `ansible-inventory -i INV --list`: the inventory parses and yields at least one host. Ansible only warns
 * of a source it cannot parse (or a folder whose files it ignores) and lists an empty inventory, so no host
 * is an error here, with Ansible's warnings as the reason. The listing itself (variables, secrets) is
 * never shown.
 */
export async function checkInventory(cwd: string, inventory: string, env: Record<string, string>, vault: Vault = {}): Promise<Validation & { hosts: number }> {
  const result = await run('ansible-inventory', ['-i', inventory, ...vaultArgv(vault), '--list'], cwd, env);
  const stderr = String(result.stderr);
  if (result.exitCode !== 0) return { ok: false, hosts: 0, output: tail(stderr) || `exit code ${result.exitCode}` };
  const hosts = countHosts(String(result.stdout));
  if (hosts > 0) return { ok: true, hosts, output: '' };
  const warnings = stderr.split('\n').filter((line) => /WARNING/.test(line)).join('\n');
  return { ok: false, hosts, output: `no hosts${warnings ? ` (Ansible: ${tail(warnings)})` : ''}` };
}

/** `ansible-playbook --syntax-check -i INV PLAYBOOK`: the playbook (roles, includes it names statically) parses. */
export async function syntaxCheck(cwd: string, inventory: string, playbook: string, env: Record<string, string>, vault: Vault = {}): Promise<Validation> {
  const result = await run('ansible-playbook', ['--syntax-check', '-i', inventory, ...vaultArgv(vault), playbook], cwd, env);
  if (result.exitCode === 0) return { ok: true, output: '' };
  return { ok: false, output: tail(String(result.all)) || `exit code ${result.exitCode}` };
}

async function run(command: string, args: string[], cwd: string, env: Record<string, string>) {
  const result = await execa(command, args, {
    cwd,
    env,
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 120_000,
    stdin: 'ignore',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (neverStarted(result)) throw new FleetError('runner', spawnFailure(command, result, env, cwd));
  if (result.timedOut) throw new FleetError('runner', `${command} ${args.join(' ')} did not finish within 120 s`);
  return result;
}

/** Hosts of `ansible-inventory --list` JSON: every group's hosts and every host with variables. */
export function countHosts(listing: string): number {
  let parsed: Record<string, { hosts?: unknown; hostvars?: Record<string, unknown> }>;
  try {
    parsed = JSON.parse(listing);
  } catch {
    return 0;
  }
  const hosts = new Set(Object.keys(parsed._meta?.hostvars ?? {}));
  for (const [name, group] of Object.entries(parsed)) {
    if (name !== '_meta' && Array.isArray(group?.hosts)) for (const host of group.hosts) hosts.add(String(host));
  }
  return hosts.size;
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-outputLines).join('\n');
}
