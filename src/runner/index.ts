import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ansibleEnv, type SshSettings } from './env.js';
import { runAnsiblePlaybook, type ProcessOutcome } from './ansible-process.js';
import type { AnsibleEvent } from './events.js';
import type { RunSpec } from './argv.js';

export type { RunSpec } from './argv.js';
export type { ProcessOutcome } from './ansible-process.js';
export { parseEventLine, toTaskResult, toHostRecaps, type AnsibleEvent } from './events.js';

export type RunOptions = {
  /** Groups runs that may share SSH control sockets (the target's name). */
  group: string;
  logFile: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Secret extra vars (name → value), written to a 0600 file for this run only. */
  secretVars?: Readonly<Record<string, string>>;
  onEvent: (event: AnsibleEvent) => void;
};

/** The only door to ansible-playbook: a private work dir per run, the env, and the process itself. */
export class Runner {
  constructor(
    private readonly workDir: string,
    private readonly ssh: SshSettings,
    private readonly killGraceMs = 5000,
  ) {}

  async run(spec: RunSpec, options: RunOptions): Promise<ProcessOutcome> {
    const controlPathDir = join(this.workDir, 'ssh', options.group);
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
      const env = ansibleEnv(process.env, { ...this.ssh, controlPathDir, localTempDir: join(runDir, 'ansible') });
      return await runAnsiblePlaybook(
        { ...spec, extraVarFiles },
        {
          env,
          logFile: options.logFile,
          timeoutMs: options.timeoutMs,
          killGraceMs: this.killGraceMs,
          signal: options.signal,
          onEvent: options.onEvent,
        },
      );
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
}
