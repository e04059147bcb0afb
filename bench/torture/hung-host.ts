/**
 * Hung hosts: SSH "hosts" that accept the connection and then stall (one silent, one that sends an SSH banner
 * and then nothing), under a target with a short `timeout` and ssh's ConnectTimeout left to Ansible's default.
 * The run is stopped at its timeout and recorded `timed-out`, nothing of it is left running, and the other
 * targets (local connection) reconcile normally meanwhile.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RunDetail, RunSummary } from '../../src/api/schemas.js';
import { processesMentioning } from '../../test/helpers/processes.js';
import { startDaemonFleet } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { waitFor } from '../../test/helpers/wait.js';
import { allRuns, localHosts, ms, scenario, type Mode, type ScenarioResult } from './common.js';

const sizes = { short: { timeoutS: 12 }, full: { timeoutS: 15 } } as const;
/** The daemon's grace between SIGTERM and SIGKILL of a run's process group. */
const killGraceMs = 5000;

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.copy: { dest: "{{ host_root }}/motd", content: "hello\\n" }
`;

export function hungHost(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('hung-host', 'Hung hosts', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-hung-');
    const silent = await stallServer(false);
    const banner = await stallServer(true);
    const d = await startDaemonFleet(
      {
        'playbooks/site.yml': playbook,
        'inventories/hung.yml': hungInventory(sandbox, silent.port, banner.port),
        'inventories/left.yml': localHosts(sandbox, ['l1']),
        'inventories/right.yml': localHosts(sandbox, ['r1']),
      },
      `reconcile: { interval: 1h, concurrency: 2 }\ntargets:\n  hung: { timeout: ${size.timeoutS}s }`,
    );
    try {
      r.step(
        `Two TCP servers on 127.0.0.1 accept connections and stall: one sends nothing, one sends \`SSH-2.0-OpenSSH_9.2\` and then nothing. ` +
          `Target \`hung\` has a host on each, \`timeout: ${size.timeoutS}s\` and Ansible's default ssh ConnectTimeout (10 s); ` +
          'targets `left` and `right` are local hosts. Concurrency 2. While the start-up check of `hung` hung, asked for checks of ' +
          '`left` and `right`, round after round.',
      );
      const hungRun = await waitFor('the hung run to run', async () => {
        const run = (await d.target('hung')).lastRun;
        return run?.status === 'running' ? run.id : undefined;
      }, 30_000, 100);
      const connected = await waitFor('ssh to connect to both', () => (silent.accepted() > 0 && banner.accepted() > 0 ? true : undefined), 30_000, 100).catch(() => false);
      const others = await otherTargets(d);
      const run = await d.finished(hungRun, (size.timeoutS + 60) * 1000);
      const tookMs = Date.parse(run.finishedAt!) - Date.parse(run.startedAt!);
      r.check('the hung run ends timed-out', run.status === 'timed-out', `#${run.id} ${run.status}: ${run.error?.slice(0, 160) ?? ''}`);
      r.check(
        `it ends on schedule (timeout ${size.timeoutS} s + ${killGraceMs / 1000} s kill grace, +10 s slack for a busy machine)`,
        tookMs <= (size.timeoutS + killGraceMs / 1000 + 10) * 1000 && tookMs >= size.timeoutS * 1000 - 500,
        `ran ${ms(tookMs)}; ssh reached both stalling hosts: ${connected}`,
      );
      const during = others.filter((o) => o.started < Date.parse(run.finishedAt!));
      const bothRan = ['left', 'right'].every((target) => during.some((o) => o.target === target));
      r.check('the other targets are unaffected: their checks start while it hangs, and succeed', bothRan && others.every((o) => o.status === 'succeeded'), others.map((o) => `#${o.id} ${o.target} ${o.status} in ${ms(o.ms)}${o.started < Date.parse(run.finishedAt!) ? '' : ' (started after the hung run ended)'}`).join(', '));
      const left = await waitFor('nothing of the hung run to be left', () => (leftovers(d.stateDir).length === 0 ? [] : undefined), 15_000, 200).catch(() => leftovers(d.stateDir));
      r.check('no ansible-playbook or ssh process of the hung run is left', left.length === 0, left.length === 0 ? 'none' : left.join('; '));
      const open = await waitFor('the stalled connections to close', () => (silent.open() + banner.open() === 0 ? 0 : undefined), 15_000, 200).catch(() => silent.open() + banner.open());
      r.check('its connections to the stalling hosts are closed', open === 0, `${open} still open (accepted: ${silent.accepted()} silent, ${banner.accepted()} banner)`);
      const overlap = mostAtOnce(await allRuns(d));
      r.check('reconcile.concurrency holds: at most 2 runs at once', overlap.count <= 2, `${overlap.count} at once (${overlap.runs})`);
      r.figure('hung run: started → recorded timed-out', `${ms(tookMs)} (timeout ${size.timeoutS} s)`);
      r.figure('other targets\' checks meanwhile', others.map((o) => `${o.target} ${ms(o.ms)}`).join(', '));
    } finally {
      await d.cleanup();
      silent.close();
      banner.close();
      removeDir(sandbox);
    }
  });
}

/** The most runs whose [startedAt, finishedAt] overlap at one moment, and which they were. */
function mostAtOnce(runs: readonly RunSummary[]): { count: number; runs: string } {
  const edges = runs
    .filter((run) => run.startedAt && run.finishedAt)
    .flatMap((run) => [
      { at: Date.parse(run.startedAt!), step: 1, run },
      { at: Date.parse(run.finishedAt!), step: -1, run },
    ])
    .sort((a, b) => a.at - b.at || a.step - b.step);
  let now = new Set<RunSummary>();
  let best = { count: 0, runs: '' };
  for (const edge of edges) {
    now = new Set(now);
    if (edge.step > 0) now.add(edge.run);
    else now.delete(edge.run);
    if (now.size > best.count) best = { count: now.size, runs: [...now].map((run) => `#${run.id} ${run.target} ${run.startedAt?.slice(11, 23)}–${run.finishedAt?.slice(11, 23)}`).join(', ') };
  }
  return best;
}

type Other = { id: number; target: string; status: string; ms: number; started: number };

/** Checks of the local targets, one round after the other, as long as the hung run is still running (10 at most). */
async function otherTargets(d: Awaited<ReturnType<typeof startDaemonFleet>>): Promise<Other[]> {
  const seen: Other[] = [];
  for (let round = 0; round < 10 && (await d.target('hung')).running; round++) {
    const started = performance.now();
    const { runs } = await d.reconcile({ targets: ['left', 'right'], mode: 'check' });
    const done: RunDetail[] = await Promise.all(runs.map((run) => d.finished(run.id, 120_000)));
    for (const run of done) seen.push({ id: run.id, target: run.target, status: run.status, ms: performance.now() - started, started: Date.parse(run.startedAt ?? run.finishedAt!) });
  }
  return seen;
}

/** ansible-playbook and ssh processes whose command line mentions the state dir (the hung target's). */
function leftovers(stateDir: string): string[] {
  return processesMentioning(stateDir)
    .filter((p) => /ansible-playbook|(^|\/)ssh[: ]/.test(p.args))
    .map((p) => `${p.pid} ${p.args.slice(0, 120)}`);
}

function hungInventory(sandbox: string, silentPort: number, bannerPort: number): string {
  const host = (port: number): string =>
    `{ ansible_host: 127.0.0.1, ansible_port: ${port}, ansible_user: root, host_root: ${JSON.stringify(sandbox)}, ` +
    `ansible_ssh_common_args: "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null" }`;
  return `all:\n  hosts:\n    silent: ${host(silentPort)}\n    banner: ${host(bannerPort)}\n`;
}

type StallServer = { port: number; accepted(): number; open(): number; close(): void };

/** Accepts connections and then says nothing more (after an SSH banner, when asked); holds them until closed. */
async function stallServer(sendBanner: boolean): Promise<StallServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    // Read and drop what the client says, so its end (the client killed) is seen and the socket closes.
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
    if (sendBanner) socket.write('SSH-2.0-OpenSSH_9.2\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('stall server: no port');
  return {
    port: address.port,
    accepted: () => accepted,
    open: () => sockets.size,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
