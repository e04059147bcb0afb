import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { descendants } from './processes.js';
import { removeDir, tempDir } from './tmp.js';

/** One test host: an sshd on 127.0.0.1 that Ansible reaches as `name`. */
export interface SshHost {
  readonly name: string;
  readonly port: number;
}

/** Running sshd hosts plus what a client needs to reach them with strict host key checking. */
export interface SshHosts {
  readonly dir: string;
  readonly keyFile: string;
  readonly knownHostsFile: string;
  readonly hosts: readonly SshHost[];
  /** A port on 127.0.0.1 where nothing listens: a host there is unreachable (connection refused). */
  readonly unreachablePort: number;
  /** Ends every session of the hosts (commands a run left running there), keeping the sshd listeners. */
  endSessions(): void;
  /** Kills every sshd (and its sessions), waits for them to exit, removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

interface RunningSshd {
  readonly child: ChildProcess;
  readonly stderr: () => string;
}

const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const STDERR_CAP = 16_384;

/**
 * Starts `count` real sshd processes on free ports of 127.0.0.1, each with its own host key, all accepting one
 * client key for root. Resolves once every one answers with an SSH-2.0 banner; on failure stops what it started.
 */
export async function startSshHosts(count: number): Promise<SshHosts> {
  const dir = tempDir('fleetcd-sshd-');
  const running: RunningSshd[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(running.splice(0).map(stopSshd));
    removeDir(dir);
  };
  try {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const keyFile = join(dir, 'client_ed25519');
    keygen(keyFile);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${keyFile}.pub`, 'utf8'), { mode: 0o600 });
    const [unreachablePort, ...ports] = await freePorts(count + 1);
    const hosts = ports.map((port, i) => ({ name: `host${i + 1}`, port }));
    const knownHosts: string[] = [];
    for (const [i, host] of hosts.entries()) {
      const hostKey = join(dir, `host${i + 1}_ed25519`);
      keygen(hostKey);
      const [type, key] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
      knownHosts.push(`[127.0.0.1]:${host.port} ${type} ${key}`);
      running.push(spawnSshd(dir, i + 1, host.port, hostKey));
    }
    const knownHostsFile = join(dir, 'known_hosts');
    writeFileSync(knownHostsFile, `${knownHosts.join('\n')}\n`);
    await Promise.all(hosts.map((host, i) => waitForBanner(host, running[i]!)));
    const endSessions = (): void => {
      for (const sshd of running) if (sshd.child.pid) for (const pid of descendants(sshd.child.pid)) signal(pid, 'SIGKILL');
    };
    return { dir, keyFile, knownHostsFile, hosts, unreachablePort: unreachablePort!, endSessions, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Options for `inventoryYaml`; `unreachablePort` is required when `unreachable` is set. */
export interface InventoryOptions {
  readonly hostRoot: (name: string) => string;
  readonly keyFile: string;
  readonly knownHostsFile: string;
  readonly unreachable?: boolean;
  readonly unreachablePort?: number;
}

/** An Ansible YAML inventory for the hosts (plus `ghost` on the unreachable port when asked). */
export function inventoryYaml(hosts: readonly SshHost[], opts: InventoryOptions): string {
  const all = [...hosts];
  if (opts.unreachable) {
    if (opts.unreachablePort === undefined) throw new Error('inventoryYaml: `unreachable` needs `unreachablePort`');
    all.push({ name: 'ghost', port: opts.unreachablePort });
  }
  const q = (value: string | number): string => JSON.stringify(String(value));
  const lines = ['all:', '  hosts:'];
  for (const host of all) {
    lines.push(
      `    ${host.name}:`,
      `      ansible_host: ${q('127.0.0.1')}`,
      `      ansible_port: ${host.port}`,
      `      ansible_user: ${q('root')}`,
      `      ansible_python_interpreter: ${q('/usr/bin/python3')}`,
      `      ansible_ssh_private_key_file: ${q(opts.keyFile)}`,
      `      ansible_ssh_common_args: ${q(`-o UserKnownHostsFile=${opts.knownHostsFile} -o StrictHostKeyChecking=yes`)}`,
      `      host_root: ${q(opts.hostRoot(host.name))}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleetcd-test', '-f', file], { stdio: 'pipe' });
}

function spawnSshd(dir: string, n: number, port: number, hostKey: string): RunningSshd {
  const config = join(dir, `sshd-${n}.conf`);
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, `sshd-${n}.pid`)}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'PrintMotd no',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_CAP);
  });
  child.on('error', (error) => {
    stderr += `\nspawn ${SSHD}: ${error.message}`;
  });
  return { child, stderr: () => stderr };
}

/** Distinct free ports: all listeners stay open until every port is known, so none repeats. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('free port: no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

async function waitForBanner(host: SshHost, sshd: RunningSshd): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(sshd.child)) {
      throw new Error(`sshd for ${host.name} (port ${host.port}) exited with ${exitText(sshd.child)}:\n${sshd.stderr()}`);
    }
    if (await answersBanner(host.port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(
    `sshd for ${host.name} gave no SSH-2.0 banner on 127.0.0.1:${host.port} within ${READY_TIMEOUT_MS} ms; stderr:\n${sshd.stderr()}`,
  );
}

function answersBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = '';
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      if (seen.includes('SSH-2.0')) done(true);
    });
  });
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function exitText(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${String(child.exitCode)}`;
}

/** Session processes outlive a killed sshd listener (and keep ControlPersist clients alive): end them first. */
async function stopSshd(sshd: RunningSshd): Promise<void> {
  const { child } = sshd;
  if (child.pid === undefined || hasExited(child)) return;
  for (const pid of descendants(child.pid)) signal(pid, 'SIGTERM');
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
