/**
 * kill -9 of the daemon at random moments of the checks and applies of three targets (two over the local
 * connection, one over SSH, so control masters exist), restarting it each time. After each restart: the
 * database passes `PRAGMA integrity_check`, every run finished before the kill is as it was, no run is left
 * queued or running, nothing the dead daemon started survives (ansible-playbook, ssh), and the reconcile the
 * restart begins converges.
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RunDetail, RunSummary } from '../../src/api/schemas.js';
import { processesMentioning, type ProcessLine } from '../../test/helpers/processes.js';
import { startDaemonFleet, type RunningDaemon } from '../../test/helpers/running-daemon.js';
import { inventoryYaml, startSshHosts, type SshHosts } from '../../test/helpers/sshd.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { sleep, waitFor } from '../../test/helpers/wait.js';
import { allRuns, finalStatuses, integrityOf, localHosts, ms, percentile, scenario, seeded, type Mode, type Recorder, type ScenarioResult } from './common.js';

/** The short mode keeps one local target beside the SSH one: every restart waits for a whole reconcile of each. */
const sizes = {
  short: { kills: 3, pause: 0.2, local: { alpha: ['a1'] } },
  full: { kills: 20, pause: 1, local: { alpha: ['a1', 'a2'], beta: ['b1'] } },
} as const;
type Hosts = Record<string, readonly string[]>;

/** Pauses that really run in checks too, so a kill can land in the middle of either kind of run. */
const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: pause before
      ansible.builtin.command: sleep {{ pause }}
      check_mode: false
      changed_when: false
    - name: config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "managed\\n" }
    - name: pause after
      ansible.builtin.command: sleep {{ pause }}
      check_mode: false
      changed_when: false
`;

type Phase = 'check' | 'apply';

export function kill9(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('kill9', 'kill -9 during checks and applies', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-kill9-');
    let hosts: SshHosts | undefined;
    let d: RunningDaemon | undefined;
    try {
      hosts = await startSshHosts(1);
      const ssh = hosts;
      const inventory = inventoryYaml(ssh.hosts, { hostRoot: (name) => join(sandbox, name), keyFile: ssh.keyFile, knownHostsFile: ssh.knownHostsFile });
      mkdirSync(join(sandbox, 'host1'));
      const hostsOf: Hosts = { ...size.local, sshy: ['host1'] };
      const files: Record<string, string> = { 'playbooks/site.yml': playbook, 'inventories/sshy.yml': inventory };
      for (const [target, names] of Object.entries(size.local)) files[`inventories/${target}.yml`] = localHosts(sandbox, names);
      const perTarget = Object.keys(hostsOf).map((t) => `  ${t}: { extraVars: { pause: ${size.pause} } }`);
      d = await startDaemonFleet(files, `reconcile: { mode: apply, interval: 1h, concurrency: 3 }\ntargets:\n${perTarget.join('\n')}`);
      r.step(
        `Started a daemon (apply mode, concurrency 3) over targets ${Object.entries(size.local).map(([t, h]) => `\`${t}\` (${h.length} local host${h.length > 1 ? 's' : ''})`).join(', ')} and \`sshy\` ` +
          `(1 sshd host on 127.0.0.1), whose playbook pauses ${size.pause} s before and after writing a file, in checks too. ` +
          `${size.kills} times: removed the managed files and asked for a reconcile of every target (check → apply → verify), ` +
          'waited for a run of the chosen kind (check or apply, seeded random) to be running, waited a random 0–1 s more, ' +
          'sent SIGKILL to the daemon and started it again on the same state.',
      );
      const rng = seeded(9);
      const verdicts: Verdicts = new Map();
      const tally = { restartMs: [] as number[], convergeMs: [] as number[], phases: { check: 0, apply: 0 }, adopted: 0, details: new Map<number, RunDetail>() };
      try {
        for (let kill = 1; kill <= size.kills; kill++) {
          const phase: Phase = mode === 'short' ? (['check', 'apply', rng() < 0.5 ? 'check' : 'apply'] as const)[kill - 1]! : rng() < 0.5 ? 'check' : 'apply';
          if (kill > 1) await drift(d, sandbox, hostsOf);
          await oneKill(r, d, { kill, phase, rng, tally, sandbox, hostsOf, verdicts });
        }
      } finally {
        judge(r, verdicts);
      }
      r.figure('kills that landed while a check ran / while an apply ran (both can hold at once)', `${tally.phases.check} / ${tally.phases.apply} of ${size.kills}`);
      r.figure('restart (spawn → API answering, old runs recovered) median / max', `${ms(percentile(tally.restartMs, 50))} / ${ms(Math.max(...tally.restartMs))}`);
      r.figure('restart → every target in sync again, median / max', `${ms(percentile(tally.convergeMs, 50))} / ${ms(Math.max(...tally.convergeMs))}`);
      r.figure('idle ssh control masters of the dead daemon kept and reused (their socket is still in the state dir)', tally.adopted);
    } finally {
      await d?.cleanup();
      hosts?.endSessions();
      await hosts?.stop();
      removeDir(sandbox);
    }
  });
}

type KillContext = {
  kill: number;
  phase: Phase;
  rng: () => number;
  /** Figures, and the details (hosts, changes, failures) of every run seen finished while the daemon was idle. */
  tally: { restartMs: number[]; convergeMs: number[]; phases: Record<Phase, number>; adopted: number; details: Map<number, RunDetail> };
  sandbox: string;
  hostsOf: Hosts;
  verdicts: Verdicts;
};

/** What each restart showed, per requirement, gathered over all the kills into one check each. */
type Verdicts = Map<string, Array<{ kill: string; ok: boolean; observed: string }>>;

async function oneKill(r: Recorder, d: RunningDaemon, c: KillContext): Promise<void> {
  const label = `kill ${c.kill} (${c.phase})`;
  const verdict = (requirement: string, ok: boolean, observed: string): void => {
    c.verdicts.set(requirement, [...(c.verdicts.get(requirement) ?? []), { kill: label, ok, observed }]);
  };
  await waitFor(`a running ${c.phase}`, async () => (await allRuns(d)).some((run) => run.kind === c.phase && run.status === 'running'), 120_000, 50);
  await sleep(c.rng() * 1000);
  const before = await allRuns(d);
  const inFlight = before.filter((run) => !finalStatuses.has(run.status));
  for (const kind of ['check', 'apply'] as const) if (inFlight.some((run) => run.status === 'running' && run.kind === kind)) c.tally.phases[kind] += 1;
  const killedAt = new Date().toISOString();
  await d.kill9();
  const left = processesMentioning(d.stateDir);
  const started = performance.now();
  await d.restart();
  c.tally.restartMs.push(performance.now() - started);
  const inFlightText = inFlight.map((run) => `#${run.id} ${run.target} ${run.kind} ${run.status}`).join(', ') || 'none';
  const integrity = integrityOf(d.stateDir);
  verdict('PRAGMA integrity_check = ok', integrity === 'ok', integrity);
  const after = await allRuns(d);
  const damaged = before.filter((run) => run.finishedAt !== null && !intact(run, after.find((a) => a.id === run.id)));
  for (const [id, detail] of c.tally.details) if (!intact(detail, await d.run(id).catch(() => undefined))) damaged.push(detail);
  const finished = before.filter((run) => run.finishedAt).length;
  verdict(
    'every run finished before the kill is intact',
    damaged.length === 0,
    damaged.length === 0 ? `${finished} finished runs unchanged (${c.tally.details.size} of them compared in detail: hosts, changes, failures)` : `changed: ${damaged.map((run) => `#${run.id}`).join(', ')}`,
  );
  const lastId = Math.max(0, ...before.map((run) => run.id));
  // The dead daemon's runs: those seen before the kill, and any it queued in the moment before it.
  const stuck = after.filter((run) => (run.id <= lastId || run.queuedAt < killedAt) && !finalStatuses.has(run.status));
  const interrupted = after.filter((run) => inFlight.some((f) => f.id === run.id)).map((run) => `#${run.id} ${run.status}`);
  verdict('no run of the dead daemon is left queued or running', stuck.length === 0, stuck.length === 0 ? interrupted.join(', ') || 'none was in flight' : `still ${stuck.map((run) => `#${run.id} ${run.status}`).join(', ')}`);
  const { orphans, adopted } = await survivors(d, left);
  c.tally.adopted += adopted.length;
  verdict('no ansible-playbook or ssh process of the dead daemon survives', orphans.length === 0, orphans.length === 0 ? `${left.length} processes before the restart, none left` : orphans.map((p) => `${p.pid} ${p.args.slice(0, 120)}`).join('; '));
  const converge = performance.now();
  const converged = await convergence(d, c.sandbox, c.hostsOf);
  c.tally.convergeMs.push(performance.now() - converge);
  // Idle now: the details of every finished run, to compare after the next kill (a finished run never changes).
  for (const run of await allRuns(d)) if (run.finishedAt && !c.tally.details.has(run.id)) c.tally.details.set(run.id, await d.run(run.id));
  verdict('the reconcile after the restart converges', converged.ok, converged.text);
  r.figure(label, `in flight: ${inFlightText}; restart ${ms(c.tally.restartMs.at(-1)!)}; ${left.length} processes left by the kill; in sync again after ${ms(c.tally.convergeMs.at(-1)!)}`);
}

/** One check per requirement over every restart: all held, or which restarts it failed and what they showed. */
function judge(r: Recorder, verdicts: Verdicts): void {
  for (const [requirement, seen] of verdicts) {
    const failed = seen.filter((v) => !v.ok);
    r.check(
      `after each of the ${seen.length} restarts: ${requirement}`,
      failed.length === 0,
      failed.length === 0 ? `${seen.length} of ${seen.length}; the last: ${seen.at(-1)!.observed}` : failed.map((v) => `${v.kill}: ${v.observed}`).join('; '),
    );
  }
}

/** A finished run is intact when every field is as it was; only a link to a follow-up may have been added. */
function intact<T extends RunSummary>(before: T, after: T | undefined): boolean {
  if (!after) return false;
  const followed = before.followedBy === null ? { ...after, followedBy: null } : after;
  return JSON.stringify(before) === JSON.stringify(followed);
}

/**
 * What the dead daemon left that is still alive once the new one answers (waiting up to 10 s for what it is
 * stopping): every ansible-playbook and ssh client is an orphan; an idle control master whose socket is
 * still in the state dir is adopted (the new daemon's runs reuse it and its shutdown closes it).
 */
async function survivors(d: RunningDaemon, left: ProcessLine[]): Promise<{ orphans: ProcessLine[]; adopted: ProcessLine[] }> {
  const alive = (): ProcessLine[] => {
    const now = new Map(processesMentioning(d.stateDir).map((p) => [p.pid, p]));
    return left.filter((p) => now.get(p.pid)?.args === p.args);
  };
  const isAdopted = (p: ProcessLine): boolean => {
    const socket = /^ssh: (\S+) \[mux\]/.exec(p.args)?.[1];
    return socket !== undefined && existsSync(socket);
  };
  const stayed = await waitFor('the dead daemon’s processes to go', () => (alive().every(isAdopted) ? alive() : undefined), 10_000, 200).catch(() => alive());
  return { orphans: stayed.filter((p) => !isAdopted(p)), adopted: stayed.filter(isAdopted) };
}

/** Every target in sync with nothing running, and every managed file in place. */
async function convergence(d: RunningDaemon, sandbox: string, hostsOf: Hosts): Promise<{ ok: boolean; text: string }> {
  try {
    const status = await waitFor('every target in sync', async () => {
      const s = await d.status();
      const done = s.targets.length === Object.keys(hostsOf).length && s.targets.every((t) => !t.running && t.status === 'in-sync');
      return done ? s : undefined;
    }, 180_000, 250);
    const missing = Object.values(hostsOf).flat().filter((host) => !existsSync(join(sandbox, host, 'app.conf')));
    return { ok: missing.length === 0, text: `${status.targets.map((t) => `${t.name} ${t.status}`).join(', ')}${missing.length ? `; missing on ${missing.join(', ')}` : ''}` };
  } catch (error) {
    const s = await d.status();
    return { ok: false, text: `${(error as Error).message}: ${s.targets.map((t) => `${t.name} ${t.status} ${t.problem ?? ''}`).join(', ')}` };
  }
}

/** Removes the managed files and asks for a reconcile of every target: check (drift) → apply → verify. */
async function drift(d: RunningDaemon, sandbox: string, hostsOf: Hosts): Promise<void> {
  for (const host of Object.values(hostsOf).flat()) rmSync(join(sandbox, host, 'app.conf'), { force: true });
  await d.reconcile({});
}
