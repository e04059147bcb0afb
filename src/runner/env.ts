import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellQuote, sshOptionPath } from '../ssh-words.js';
import type { RepoAnsibleCfg } from './ansible-cfg.js';

/** The callback plugin folder shipped with fleetcd (dist/runner → ../../ansible). */
export const callbackPluginDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'ansible', 'callback_plugins');

/** Variables of the daemon's own environment that ansible-playbook may see. Nothing else leaks through. */
const passedThrough = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'USER', 'LOGNAME', 'SSH_AUTH_SOCK'];

export type SshSettings = {
  pipelining: boolean;
  controlPersistMs: number;
  knownHostsFile?: string;
  strictHostKeyChecking?: boolean;
};

/**
 * The environment of one ansible-playbook run: an allow-list of the daemon's own variables (plus any
 * ANSIBLE_* an operator set for the daemon), then fleetcd's settings: the event callback (added to the
 * repo's own callbacks), no colour or retry files, a private temp dir, and fast SSH (pipelining unless the
 * repo's ansible.cfg says otherwise; ControlPersist with a socket dir of the target's own, so two targets
 * never share a control socket).
 */
export function ansibleEnv(
  parent: NodeJS.ProcessEnv,
  settings: SshSettings & { controlPathDir: string; localTempDir: string; facts?: { dir: string; timeoutMs: number } },
  repoCfg: RepoAnsibleCfg = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (passedThrough.includes(key) || (key.startsWith('ANSIBLE_') && key !== 'ANSIBLE_VAULT_PASSWORD_FILE')) {
      env[key] = value;
    }
  }
  env.PATH ??= '/usr/local/bin:/usr/bin:/bin';
  env.LANG ??= 'C.UTF-8';
  // The repo's own callbacks keep working: ours is added to its list, not put in its place.
  Object.assign(env, {
    ANSIBLE_CALLBACK_PLUGINS: [callbackPluginDir, repoCfg.callbackPlugins].filter(Boolean).join(':'),
    ANSIBLE_CALLBACKS_ENABLED: [...new Set([...(repoCfg.callbacksEnabled ?? []), 'fleetcd_events'])].join(','),
    FLEETCD_EVENT_FD: '3',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_RETRY_FILES_ENABLED: '0',
    ANSIBLE_LOCAL_TEMP: settings.localTempDir,
    ANSIBLE_SSH_CONTROL_PATH_DIR: settings.controlPathDir,
    ANSIBLE_PIPELINING: (repoCfg.pipelining ?? settings.pipelining) ? '1' : '0',
  });
  // Facts gathered by one run serve the next ones within the target's interval (`gathering: smart` skips
  // hosts whose facts are cached). A repository that chose its own cache or gathering keeps its choice, and an
  // operator's ANSIBLE_* variables outrank both.
  if (settings.facts) {
    if (!repoCfg.factCaching && !parent.ANSIBLE_CACHE_PLUGIN) {
      env.ANSIBLE_CACHE_PLUGIN = 'jsonfile';
      env.ANSIBLE_CACHE_PLUGIN_CONNECTION = settings.facts.dir;
      env.ANSIBLE_CACHE_PLUGIN_TIMEOUT = String(Math.max(1, Math.round(settings.facts.timeoutMs / 1000)));
    }
    if (!repoCfg.gathering && !parent.ANSIBLE_GATHERING) env.ANSIBLE_GATHERING = 'smart';
  }
  // ssh keeps the first value it is given for an option: the daemon's host-key settings come first (they
  // are security), then the repo's ssh_args, then fleetcd's connection reuse defaults. Ansible splits the
  // whole string with shlex, and ssh reads quotes and `%` tokens in the value, so the path is quoted for both.
  const sshArgs: string[] = [];
  if (settings.knownHostsFile) {
    const path = sshOptionPath(settings.knownHostsFile, 'ansible.knownHostsFile');
    sshArgs.push(`-o ${shellQuote(`UserKnownHostsFile=${path}`)}`);
  }
  if (settings.strictHostKeyChecking !== undefined) {
    env.ANSIBLE_HOST_KEY_CHECKING = settings.strictHostKeyChecking ? '1' : '0';
    sshArgs.push(`-o StrictHostKeyChecking=${settings.strictHostKeyChecking ? 'yes' : 'no'}`);
  }
  if (repoCfg.sshArgs) sshArgs.push(repoCfg.sshArgs);
  sshArgs.push('-o ControlMaster=auto', `-o ControlPersist=${Math.max(1, Math.round(settings.controlPersistMs / 1000))}s`);
  env.ANSIBLE_SSH_ARGS = sshArgs.join(' ');
  return env;
}
