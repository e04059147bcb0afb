import { readFileSync, type Stats, statSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from '../errors.js';

/** Far above any real ansible.cfg; a bigger one is a mistake or an attack, and is read whole before each run. */
const maxAnsibleCfgBytes = 1024 * 1024;

/** The few settings of a repository's ansible.cfg that fleetcd's own environment would otherwise override. */
export type RepoAnsibleCfg = {
  callbacksEnabled?: string[];
  callbackPlugins?: string;
  sshArgs?: string;
  pipelining?: boolean;
  /** The repo chose its own fact cache plugin or gathering policy: fleetcd's defaults stay out of the way. */
  factCaching?: string;
  gathering?: string;
};

/**
 * Reads `<dir>/ansible.cfg` (what Ansible itself reads when run in that folder) for the settings fleetcd
 * sets through the environment, so they can be merged rather than silently replaced: environment variables
 * outrank ansible.cfg in Ansible's precedence.
 */
export function readRepoAnsibleCfg(dir: string): RepoAnsibleCfg {
  const file = join(dir, 'ansible.cfg');
  // stat, never open first: a commit can make ansible.cfg a FIFO or a device, whose read would block the
  // daemon's event loop (a FIFO) or never end (/dev/zero).
  let size: number;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new FleetError('runner', `ansible.cfg: is not a regular file (a ${kindOf(stat)}); refusing to read it`);
    size = stat.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
  if (size > maxAnsibleCfgBytes) {
    throw new FleetError('runner', `ansible.cfg: is ${size} bytes, over the ${maxAnsibleCfgBytes} fleetcd reads; refusing to read it`);
  }
  return parseAnsibleCfg(readFileSync(file, 'utf8'));
}

function kindOf(stat: Stats): string {
  if (stat.isDirectory()) return 'directory';
  if (stat.isFIFO()) return 'FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'device';
  if (stat.isSocket()) return 'socket';
  return 'special file';
}

/** INI as Ansible's configparser reads it: `[section]`, `key = value` or `key: value`, `#`/`;` comments. */
export function parseAnsibleCfg(text: string): RepoAnsibleCfg {
  const values = new Map<string, string>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      section = header[1].trim();
      continue;
    }
    const pair = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(line);
    if (pair?.[1]) values.set(`${section}.${pair[1].toLowerCase()}`, (pair[2] ?? '').replace(/\s;.*$/, '').trim());
  }
  const list = (value: string | undefined): string[] | undefined =>
    value === undefined ? undefined : value.split(',').map((v) => v.trim()).filter(Boolean);
  const bool = (value: string | undefined): boolean | undefined =>
    value === undefined ? undefined : ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
  return {
    callbacksEnabled: list(values.get('defaults.callbacks_enabled') ?? values.get('defaults.callback_whitelist')),
    callbackPlugins: values.get('defaults.callback_plugins'),
    sshArgs: values.get('ssh_connection.ssh_args'),
    pipelining: bool(values.get('ssh_connection.pipelining') ?? values.get('connection.pipelining')),
    factCaching: values.get('defaults.fact_caching'),
    gathering: values.get('defaults.gathering'),
  };
}
