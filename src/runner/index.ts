import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { readRepoAnsibleCfg } from './ansible-cfg.js';
import { ansibleEnv, type SshSettings } from './env.js';
import { runAnsiblePlaybook, type ProcessOutcome } from './ansible-process.js';
import type { AnsibleEvent } from './events.js';
import { vaultArgv, type RunSpec } from './argv.js';
import { installRequirements, pruneInstalls, type InstalledRequirements } from './requirements.js';
import { listInventoryHosts } from './inventory.js';
import { runGateProgram, type GateOutcome } from './gate.js';

export type { RunSpec } from './argv.js';
export type { ProcessOutcome } from './ansible-process.js';
export type { GateOutcome } from './gate.js';
export type { InstalledRequirements } from './requirements.js';
export { parseEventLine, toTaskResult, toHostRecaps, type AnsibleEvent } from './events.js';
export { killOrphanGroup } from './process-identity.js';
export { killLiveGroups } from './process-group.js';
export { checkInventory, countHosts, syntaxCheck, validationEnv, type Validation, type Vault } from './validate.js';

export type RunOptions = {
  /** Groups runs that may share SSH control sockets (the target's name). */
  group: string;
  logFile: string;
  /** The log's size cap (retention.maxLogSize). */
  maxLogBytes: number;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Secret extra vars (name → value), written to a 0600 file for this run only. */
  secretVars?: Readonly<Record<string, string>>;
  /** Roles and collections installed for the run's revision. */
  requirements?: InstalledRequirements;
  /** How long gathered facts serve later runs of the group (the target's interval). */
  factCacheTimeoutMs?: number;
  /** The process group of the run and its leader's start time, once it runs. */
  onSpawn?: (pgid: number, startTicks: number | null) => void;
  onEvent: (event: AnsibleEvent) => void;
  /** A line on the event pipe that fits no event's schema: its first 200 bytes (the run counts and skips it). */
  onMalformedEvent?: (head: string) => void;
};

/** The Ansible settings the runner applies to every run: SSH reuse, the fact cache, a lower CPU priority. */
export type RunnerSettings = SshSettings & { factCache: boolean; nice: number };

/** The only door to Ansible's programs: a private work dir per run, the env, and the processes. */
export class Runner {
  constructor(
    private readonly workDir: string,
    private readonly ssh: RunnerSettings,
    private readonly killGraceMs = 5000,
  ) {}

  async run(spec: RunSpec, options: RunOptions): Promise<ProcessOutcome> {
    const controlPathDir = this.controlPathDir(options.group);
    mkdirSync(controlPathDir, { recursive: true, mode: 0o700 });
    mkdirSync(join(this.workDir, 'tmp'), { recursive: true, mode: 0o700 });
    const runDir = mkdtempSync(join(this.workDir, 'tmp', 'run-'));
    try {
      const extraVarFiles = [...(spec.extraVarFiles ?? [])];
      if (options.secretVars && Object.keys(options.secretVars).length > 0) {
        const file = join(runDir, 'secret-vars.json');
        writeFileSync(file, JSON.stringify(options.secretVars), { mode: 0o600 });
        extraVarFiles.push(file);
      }
      const facts = this.ssh.factCache
        ? { dir: join(this.workDir, 'facts', options.group), timeoutMs: options.factCacheTimeoutMs ?? 15 * 60_000 }
        : undefined;
      const env = ansibleEnv(
        process.env,
        { ...this.ssh, controlPathDir, localTempDir: join(runDir, 'ansible'), facts },
        readRepoAnsibleCfg(spec.cwd),
      );
      if (options.requirements) {
        env.ANSIBLE_ROLES_PATH = [options.requirements.rolesPath, join(spec.cwd, 'roles')].join(':');
        env.ANSIBLE_COLLECTIONS_PATH = [
          options.requirements.collectionsPath,
          join(env.HOME ?? '/root', '.ansible', 'collections'),
          '/usr/share/ansible/collections',
        ].join(':');
      }
      const outcome = await runAnsiblePlaybook(
        { ...spec, extraVarFiles },
        {
          env,
          logFile: options.logFile,
          maxLogBytes: options.maxLogBytes,
          timeoutMs: options.timeoutMs,
          killGraceMs: this.killGraceMs,
          nice: this.ssh.nice,
          signal: options.signal,
          onSpawn: options.onSpawn,
          onEvent: options.onEvent,
          onMalformedEvent: options.onMalformedEvent,
        },
      );
      // A stopped run may leave SSH masters (they detach into their own session): close them too.
      if (outcome.timedOut || outcome.cancelled) await this.closeControlMasters(options.group);
      return outcome;
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }

  /** Runs a policy gate's program in a revision's checkout (see gate.ts). */
  async runGate(cwd: string, command: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<GateOutcome> {
    const env = ansibleEnv(process.env, { ...this.ssh, controlPathDir: this.controlPathDir('gates'), localTempDir: join(this.workDir, 'tmp') }, readRepoAnsibleCfg(cwd));
    // A linter's colours are noise in the output kept with the result.
    return runGateProgram(cwd, command, { ...env, NO_COLOR: '1', TERM: 'dumb' }, { timeoutMs, killGraceMs: this.killGraceMs }, signal);
  }

  /**
   * The hosts an inventory of a revision yields (ansible-inventory, with the repo's ansible.cfg and vault).
   * async, so that a refused ansible.cfg (readRepoAnsibleCfg throws) is a rejection like any failure to list.
   */
  async listHosts(cwd: string, inventory: string, vault: Pick<RunSpec, 'vaultPasswordFile' | 'vaultIds'>, signal?: AbortSignal): Promise<string[]> {
    const env = ansibleEnv(process.env, { ...this.ssh, controlPathDir: this.controlPathDir('inventory'), localTempDir: join(this.workDir, 'tmp') }, readRepoAnsibleCfg(cwd));
    return listInventoryHosts(cwd, inventory, vaultArgv(vault), env, signal);
  }

  /** Installs the revision's requirements.yml once (see requirements.ts). Throws FleetError('runner'). */
  prepare(root: string, sha: string, timeoutMs: number, signal?: AbortSignal): Promise<InstalledRequirements> {
    const env = ansibleEnv(process.env, {
      ...this.ssh,
      controlPathDir: this.controlPathDir('galaxy'),
      localTempDir: join(this.workDir, 'tmp'),
    });
    return installRequirements(root, sha, this.workDir, env, timeoutMs, signal);
  }

  /** Removes installed requirements of revisions not in `keep` (see requirements.ts); the shas removed. */
  pruneInstalls(keep: ReadonlySet<string>): string[] {
    return pruneInstalls(this.workDir, keep);
  }

  /**
   * Leftovers: run dirs and Ansible temp files in `tmp/` older than `tempMaxAgeMs` (a run removes its own; a
   * crash leaves them, and nothing runs longer than its timeout), and cached facts no run refreshed for
   * `factsMaxAgeMs` (hosts and targets that left the inventories). How many entries went.
   */
  sweep(tempMaxAgeMs: number, factsMaxAgeMs: number, now = Date.now()): number {
    let removed = removeOlder(join(this.workDir, 'tmp'), now - tempMaxAgeMs);
    const facts = join(this.workDir, 'facts');
    for (const group of existsSync(facts) ? readdirSync(facts) : []) {
      const dir = join(facts, group);
      removed += removeOlder(dir, now - factsMaxAgeMs);
      if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true, force: true });
    }
    return removed;
  }

  /**
   * Asks every SSH ControlPersist master of a group (or of all groups) to exit. Masters outlive the run
   * that opened them by design (the next run reuses them); at shutdown and after a killed run they must go.
   */
  async closeControlMasters(group?: string): Promise<void> {
    const root = join(this.workDir, 'ssh');
    if (!existsSync(root)) return;
    const groups = group ? [group] : readdirSync(root);
    const sockets = groups.flatMap((g) => {
      const dir = join(root, g);
      return existsSync(dir) ? readdirSync(dir).map((name) => join(dir, name)) : [];
    });
    await Promise.all(
      sockets.map((socket) =>
        execa('ssh', ['-O', 'exit', '-o', `ControlPath=${socket}`, 'fleetcd-control-master'], {
          reject: false,
          timeout: 5000,
          stdin: 'ignore',
        }),
      ),
    );
  }

  private controlPathDir(group: string): string {
    return join(this.workDir, 'ssh', group);
  }
}

/** Removes the entries of `dir` last modified before `before` (ms since the epoch); how many. */
function removeOlder(dir: string, before: number): number {
  if (!existsSync(dir)) return 0;
  let removed = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    try {
      if (statSync(path).mtimeMs >= before) continue;
    } catch {
      continue;
    }
    rmSync(path, { recursive: true, force: true });
    removed += 1;
  }
  return removed;
}
