import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
 * ANSIBLE_* an operator set for the daemon), then fleetcd's settings, which win: the event callback, no
 * colour or retry files, a private temp dir, and fast SSH (pipelining, ControlPersist with a socket dir of
 * the target's own, so two targets never share a control socket).
 */
export function ansibleEnv(
  parent: NodeJS.ProcessEnv,
  settings: SshSettings & { controlPathDir: string; localTempDir: string },
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
  Object.assign(env, {
    ANSIBLE_CALLBACK_PLUGINS: callbackPluginDir,
    ANSIBLE_CALLBACKS_ENABLED: 'fleetcd_events',
    FLEETCD_EVENT_FD: '3',
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    ANSIBLE_RETRY_FILES_ENABLED: '0',
    ANSIBLE_LOCAL_TEMP: settings.localTempDir,
    ANSIBLE_SSH_CONTROL_PATH_DIR: settings.controlPathDir,
    ANSIBLE_PIPELINING: settings.pipelining ? '1' : '0',
  });
  const sshArgs = [
    '-o ControlMaster=auto',
    `-o ControlPersist=${Math.max(1, Math.round(settings.controlPersistMs / 1000))}s`,
  ];
  if (settings.knownHostsFile) sshArgs.push(`-o UserKnownHostsFile=${settings.knownHostsFile}`);
  if (settings.strictHostKeyChecking !== undefined) {
    env.ANSIBLE_HOST_KEY_CHECKING = settings.strictHostKeyChecking ? '1' : '0';
    sshArgs.push(`-o StrictHostKeyChecking=${settings.strictHostKeyChecking ? 'yes' : 'no'}`);
  }
  env.ANSIBLE_SSH_ARGS = sshArgs.join(' ');
  return env;
}
