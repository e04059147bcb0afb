/**
 * The fleets the benchmarks run: a realistic playbook (facts gathered, a dozen file/template modules under each
 * host's `host_root`, no package managers) over the test sshd hosts, the same Ansible settings for raw
 * ansible-playbook as fleetcd gives its own runs, and the daemon driven through its API.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/index.js';
import { readRepoAnsibleCfg } from '../src/runner/ansible-cfg.js';
import { ansibleEnv } from '../src/runner/env.js';
import type { RunDetail, RunSummary } from '../src/api/schemas.js';
import { spawnDaemon } from '../test/helpers/daemon.js';
import { type RunningDaemon, startDaemonFleet } from '../test/helpers/running-daemon.js';
import { inventoryYaml, type SshHost, type SshHosts, startSshHosts } from '../test/helpers/sshd.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { GiveUp, waitFor } from '../test/helpers/wait.js';
import { closeControlMasters, onCleanup, timed, type Timed } from './lib.js';

/** Gathers facts, then a dozen tasks of file-like modules, all under the host's sandbox folder. */
export const realisticPlaybook = `- name: app base
  hosts: all
  vars_files: [vars.yml]
  tasks:
    - name: app directories
      ansible.builtin.file: { path: "{{ host_root }}/{{ item }}", state: directory, mode: "0755" }
      loop: [etc/app, var/lib/app, var/log/app]
    - name: app config
      ansible.builtin.template: { src: app.conf.j2, dest: "{{ host_root }}/etc/app/app.conf", mode: "0644" }
    - name: motd
      ansible.builtin.copy: { content: "Managed by fleetcd on {{ ansible_facts.hostname }}\\n", dest: "{{ host_root }}/etc/motd", mode: "0644" }
    - name: limits
      ansible.builtin.lineinfile: { path: "{{ host_root }}/etc/app/limits.conf", line: "app soft nofile 65536", create: true, mode: "0644" }
    - name: sysctl settings
      ansible.builtin.blockinfile: { path: "{{ host_root }}/etc/app/sysctl.conf", block: "vm.swappiness = 10\\nnet.core.somaxconn = 1024", create: true, mode: "0644" }
    - name: log level
      ansible.builtin.replace: { path: "{{ host_root }}/etc/app/app.conf", regexp: "^loglevel = .*$", replace: "loglevel = info" }
    - name: current config link
      ansible.builtin.file: { src: "{{ host_root }}/etc/app/app.conf", dest: "{{ host_root }}/etc/app/current.conf", state: link }
    - name: look at the config
      ansible.builtin.stat: { path: "{{ host_root }}/etc/app/app.conf" }
      register: app_conf
    - name: the config is there
      ansible.builtin.assert: { that: [app_conf.stat.exists], quiet: true }
    - name: cron entry
      ansible.builtin.copy: { content: "*/5 * * * * app /usr/bin/true\\n", dest: "{{ host_root }}/etc/app/cron", mode: "0644" }
    - name: facts summary
      ansible.builtin.copy:
        content: "{{ ansible_facts.distribution }} {{ ansible_facts.distribution_version }} {{ ansible_facts.processor_vcpus }} cpus\\n"
        dest: "{{ host_root }}/var/lib/app/facts.txt"
        mode: "0644"
`;

const template = `# managed by Ansible
hostname = {{ ansible_facts.hostname }}
version = {{ app_version }}
loglevel = info
memory_mb = {{ ansible_facts.memtotal_mb }}
`;

/** The repository files of a fleet running the realistic playbook over these inventories (name → YAML). */
export function realisticRepo(inventories: Record<string, string>, appVersion = '1'): Record<string, string> {
  const files: Record<string, string> = {
    'playbooks/site.yml': realisticPlaybook,
    'playbooks/templates/app.conf.j2': template,
    'playbooks/vars.yml': appVars(appVersion),
  };
  for (const [name, yaml] of Object.entries(inventories)) files[`inventories/${name}.yml`] = yaml;
  return files;
}

export const appVars = (version: string): string => `app_version: "${version}"\n`;

/**
 * An inventory of the sshd hosts, or of `names` spread over them, each with its own folder under `base`. Ansible
 * names a control socket after address, port and user, so names sharing an sshd would share one SSH connection
 * (and its 10-session limit): each name gets a socket of its own, as distinct real hosts would.
 */
export function sshInventory(sshd: SshHosts, base: string, names?: readonly string[]): string {
  const hosts: SshHost[] = names ? names.map((name, i) => ({ name, port: sshd.hosts[i % sshd.hosts.length]!.port })) : [...sshd.hosts];
  const yaml = inventoryYaml(hosts, { hostRoot: (name) => join(base, name), keyFile: sshd.keyFile, knownHostsFile: sshd.knownHostsFile });
  if (!names) return yaml;
  return hosts.reduce((text, { name }) => text.replace(`\n    ${name}:\n`, `\n    ${name}:\n      ansible_control_path: "%(directory)s/${name}"\n`), yaml);
}

/**
 * The environment fleetcd gives ansible-playbook for a target (ansibleEnv with the config's defaults, its fact
 * cache and control sockets under `dir`), minus fleetcd's own event callback: raw Ansible on equal settings.
 */
export function fleetcdSettingsEnv(cwd: string, dir: string, configExtra: Record<string, unknown> = {}): Record<string, string> {
  const config = parseConfig({ repository: { url: dir }, stateDir: dir, ...configExtra }, join(dir, 'fleetcd.yaml'));
  mkdirSync(join(dir, 'ssh'), { recursive: true, mode: 0o700 });
  mkdirSync(join(dir, 'tmp'), { recursive: true, mode: 0o700 });
  const env = ansibleEnv(
    process.env,
    {
      ...config.ansible,
      controlPathDir: join(dir, 'ssh'),
      localTempDir: join(dir, 'tmp'),
      facts: config.ansible.factCache ? { dir: join(dir, 'facts'), timeoutMs: config.reconcile.intervalMs } : undefined,
    },
    readRepoAnsibleCfg(cwd),
  );
  delete env.ANSIBLE_CALLBACKS_ENABLED;
  delete env.ANSIBLE_CALLBACK_PLUGINS;
  delete env.FLEETCD_EVENT_FD;
  return env;
}

/** One ansible-playbook run from `cwd`, timed from spawn to exit; throws unless it exits 0 or 2 (a failed host). */
export async function ansiblePlaybook(cwd: string, args: readonly string[], env: Record<string, string>): Promise<Timed> {
  const run = await timed('ansible-playbook', args, { cwd, env, timeoutMs: 30 * 60_000 });
  if (run.code !== 0) throw new Error(`ansible-playbook ${args.join(' ')} exited ${run.code}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
  return run;
}

/** Applies the playbook once (Ansible's defaults, sockets under `dir`), so later checks start from converged hosts. */
export async function converge(cwd: string, inventory: string | readonly string[], dir: string): Promise<void> {
  const env = { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'converge-ssh') } as Record<string, string>;
  const inventories = typeof inventory === 'string' ? [inventory] : inventory;
  await ansiblePlaybook(cwd, [...inventories.flatMap((i) => ['-i', i]), '--forks', '10', 'playbooks/site.yml'], env);
  await closeControlMasters(join(dir, 'converge-ssh'));
}

/**
 * `fleetcd serve` over a fleet repository of `files` (startDaemonFleet), started again at the log level a
 * production daemon has (info: the helper's debug level logs every API request). `config` should hold
 * `reconcile: {shutdownGrace: 0s, …}` so that the first start's startup runs stop at once. Cleaned up with
 * the benchmark.
 */
export async function startBenchDaemon(
  files: Record<string, string>,
  config: string,
  /** The whole config file for the second start (for a `repository:` section of one's own). */
  rewrite?: (d: RunningDaemon) => string,
): Promise<RunningDaemon> {
  const d = await startDaemonFleet(files, config);
  onCleanup(() => d.cleanup());
  await d.stop();
  if (rewrite) writeFileSync(d.configFile, rewrite(d));
  d.process = spawnDaemon(d.configFile, { FLEETCD_LOG_LEVEL: 'info' });
  await waitFor('the daemon to answer', async () => {
    if (d.process.child.exitCode !== null) throw new GiveUp(`the daemon exited: ${d.process.output()}`);
    return (await fetch(`${d.base}/healthz`)).ok;
  }, 30_000, 100);
  return d;
}

const final = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

/** A run once it ended, read every `everyMs` (one light request at a time). */
export function runFinished(d: RunningDaemon, id: number, timeoutMs = 30 * 60_000, everyMs = 250): Promise<RunDetail> {
  return waitFor(`run #${id} to end`, async () => {
    const run = await d.get<RunDetail>(`/api/v1/runs/${id}`);
    return final.has(run.status) ? run : undefined;
  }, timeoutMs, everyMs);
}

/** A check of targets through the API: from just before the request to the newest finishedAt the runs record. */
export async function daemonCheck(
  d: RunningDaemon,
  targets: string[],
  onQueued?: (ids: number[]) => void,
): Promise<{ ms: number; startMs: number; runs: RunDetail[]; requestedAt: number }> {
  const requestedAt = Date.now();
  const queued = await d.reconcile({ targets, mode: 'check' });
  onQueued?.(queued.runs.map((r) => r.id));
  const runs: RunDetail[] = [];
  for (const { id } of queued.runs) runs.push(await runFinished(d, id));
  const bad = runs.find((r) => r.status !== 'succeeded');
  if (bad) throw new Error(`run #${bad.id} of ${bad.target} ended ${bad.status}: ${bad.error}`);
  const finished = Math.max(...runs.map((r) => Date.parse(r.finishedAt!)));
  const started = Math.min(...runs.map((r) => Date.parse(r.startedAt!)));
  return { ms: finished - requestedAt, startMs: started - requestedAt, runs, requestedAt };
}

/** Waits until no run of the daemon is queued or running (a chain's verify included), with at least `minRuns` on record. */
export async function daemonIdle(d: RunningDaemon, timeoutMs = 30 * 60_000, minRuns = 0): Promise<void> {
  await waitFor('the daemon to be idle', async () => {
    const { runs } = await d.get<{ runs: RunSummary[] }>('/api/v1/runs?limit=100');
    // Runs a restart interrupted are the previous daemon's.
    const current = runs.filter((r) => r.status !== 'interrupted');
    if (current.length < minRuns || !runs.every((r) => final.has(r.status))) return undefined;
    const status = await d.get<{ revision: unknown; targets: Array<{ running: boolean }> }>('/api/v1/status');
    return status.revision !== null && status.targets.every((t) => !t.running);
  }, timeoutMs, 250);
}

/** The daemon's first fetch done and its startup check of each of `targets` targets ended. */
export function daemonStarted(d: RunningDaemon, targets: number, timeoutMs = 10 * 60_000): Promise<void> {
  return daemonIdle(d, timeoutMs, targets);
}

/** Cancels the startup runs (a big fleet's would take minutes) and waits until the daemon is idle. */
export async function cancelStartupRuns(d: RunningDaemon, expected: number): Promise<void> {
  const { runs } = await waitFor('the startup runs', async () => {
    const list = await d.get<{ runs: RunSummary[] }>('/api/v1/runs?limit=100');
    return list.runs.filter((r) => r.status !== 'interrupted').length >= expected ? list : undefined;
  }, 60_000, 100);
  for (const run of runs) if (!final.has(run.status)) await d.post(`/api/v1/runs/${run.id}/cancel`);
  await daemonIdle(d, 120_000, expected);
}

/**
 * Benchmarks 0 and 1's fleet: one target `web` of 2 sshd hosts with the realistic playbook, converged, then one
 * file edited by hand so every check has a diff to report; the daemon started over it. Cleaned up on exit.
 */
export async function driftedWebTarget(prefix: string): Promise<{ dir: string; hostRoot: string; d: RunningDaemon; cwd: string }> {
  const dir = tempDir(prefix);
  onCleanup(() => removeDir(dir));
  const sshd = await startSshHosts(2);
  onCleanup(() => sshd.stop());
  const hostRoot = join(dir, 'hosts');
  const d = await startBenchDaemon(realisticRepo({ web: sshInventory(sshd, hostRoot) }), 'reconcile: { interval: 15m, jitter: 0%, shutdownGrace: 0s }');
  await daemonStarted(d, 1);
  const cwd = d.repo.work;
  await converge(cwd, 'inventories/web.yml', dir);
  writeFileSync(join(hostRoot, 'host1', 'etc', 'motd'), 'edited by hand\n');
  return { dir, hostRoot, d, cwd };
}
