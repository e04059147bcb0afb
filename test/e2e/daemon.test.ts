import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { killGroups, processesMentioning } from '../helpers/processes.js';
import { inventoryYaml, type SshHost, type SshHosts, startSshHosts } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { GiveUp, waitFor as waitUntil } from '../helpers/wait.js';

/*
 * The whole daemon as a user runs it: `fleetcd serve` as a process, a real git origin, real sshd hosts, real
 * ansible-playbook. Everything is observed through the HTTP API (the contract) and the hosts' files on disk.
 */

const POLL_MS = 200;
const RUN_TIMEOUT_MS = 60_000;
const isoUtc = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const finalStatuses = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

type Summary = { hosts: number; ok: number; changed: number; failed: number; unreachable: number; skipped: number };
type RunSummary = {
  id: number;
  target: string;
  kind: 'check' | 'apply';
  trigger: string;
  revision: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  followedBy: number | null;
  summary: Summary;
};
type DiffEntry = { before?: unknown; after?: unknown };
type RunDetail = RunSummary & {
  hosts: Array<{ host: string } & Omit<Summary, 'hosts'>>;
  changes: Array<{ host: string; task: string; module: string | null; diff: DiffEntry[] | null }>;
  failures: Array<{ host: string; task: string; message: string | null }>;
};
type TargetView = { name: string; mode: string; status: string; running: boolean; lastRun: RunSummary | null };
type TargetDetail = TargetView & { hosts: Array<{ name: string; status: string; changedTasks: number }> };
type Status = {
  revision: { sha: string; branch: string; fetchedAt: string } | null;
  source: { error: string | null };
  targets: TargetView[];
};

const PLAYBOOK = `- name: App baseline
  hosts: all
  gather_facts: false
  tasks:
    - name: App data directory
      ansible.builtin.file:
        path: "{{ host_root }}/data"
        state: directory
        mode: "0755"

    - name: App config file
      ansible.builtin.copy:
        dest: "{{ host_root }}/app.conf"
        content: "version = {{ app_version }}\\nhost = {{ inventory_hostname }}\\n"
        mode: "0644"
`;
const CONFIG_TASK = 'App config file';
const DATA_TASK = 'App data directory';

/** The daemon process, with its output kept for the failure report. */
type Daemon = DaemonProcess & { exited: () => boolean };

function startDaemon(configFile: string): Daemon {
  const daemon = spawnDaemon(configFile, { FLEETCD_LOG_LEVEL: 'info' });
  return { ...daemon, exited: () => daemon.child.exitCode !== null || daemon.child.signalCode !== null };
}

function excerpt(value: unknown): string {
  const text = value instanceof Error ? value.message : JSON.stringify(value);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

/** ansible-playbook processes whose command line points into `dir` (another test's are not ours). */
function ansibleProcessesUnder(dir: string): string[] {
  return processesMentioning('ansible-playbook')
    .filter((p) => p.args.includes(dir))
    .map((p) => `${p.pid} ${p.args}`);
}

function diffText(diff: DiffEntry[] | null, side: 'before' | 'after'): string {
  return (diff ?? []).map((entry) => (typeof entry[side] === 'string' ? (entry[side] as string) : '')).join('\n');
}

/** `host | task` pairs of a run's changes, sorted, for exact comparisons. */
function changePairs(run: RunDetail): string[] {
  return run.changes.map((c) => `${c.host} | ${c.task}`).sort();
}

/*
 * The whole daemon as a user runs it, as a sequence of named steps that share one daemon: `fleetcd serve` as a
 * process, a real git origin, real sshd hosts, real ansible-playbook. Everything is observed through the HTTP
 * API (the contract), the CLI and the hosts' files on disk.
 */
describe('fleetcd serve, end to end', { timeout: 170_000 }, () => {
  const started = Date.now();
  const root = tempDir('fleetcd-e2e-');
  const token = 'e2e-token-0123456789';
  let hosts: SshHosts | undefined;
  let repo: FleetRepo;
  let daemon: Daemon;
  let host1: SshHost;
  let host2: SshHost;
  let inventory: (target: string, members: SshHosts['hosts'], version: string, unreachable: boolean) => string;
  let firstSha: string;
  let secondSha = '';
  let configFile: string;
  let base: string;
  const sandbox = (target: string, host: string): string => join(root, 'hosts', `${target}-${host}`);
  const configOf = (target: string, host: string): string => join(sandbox(target, host), 'app.conf');
  const step = (name: string): void => console.log(`# ${((Date.now() - started) / 1000).toFixed(1)}s ${name}`);

  before(async () => {
    hosts = await startSshHosts(2);
    [host1, host2] = hosts.hosts as [SshHost, SshHost];
    for (const target of ['prod', 'staging']) {
      for (const host of ['host1', 'host2', 'ghost']) mkdirSync(sandbox(target, host), { recursive: true });
    }
    const ssh = hosts;
    inventory = (target: string, members: SshHosts['hosts'], version: string, unreachable: boolean): string =>
      inventoryYaml(members, {
        hostRoot: (name) => sandbox(target, name),
        keyFile: ssh.keyFile,
        knownHostsFile: ssh.knownHostsFile,
        unreachable,
        unreachablePort: ssh.unreachablePort,
      }) + `  vars:\n    app_version: "${version}"\n`;

    repo = await createFleetRepo({
      'playbooks/site.yml': PLAYBOOK,
      'inventories/prod.yml': inventory('prod', [host1, host2], '1.0.0', true),
      'inventories/staging.yml': inventory('staging', [host1], '1.0.0', false),
    });
    firstSha = repo.head();

    const port = await freePort();
    const tokenFile = join(root, 'api-token');
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const stateDir = join(root, 'state');
    configFile = join(root, 'fleetcd.yaml');
    writeFileSync(
      configFile,
      [
        'repository:',
        `  url: ${JSON.stringify(repo.origin)}`,
        '  branch: main',
        '  pollInterval: 1s',
        `stateDir: ${JSON.stringify(stateDir)}`,
        'api:',
        `  listen: 127.0.0.1:${port}`,
        `  tokenFile: ${JSON.stringify(tokenFile)}`,
        'reconcile:',
        '  mode: detect',
        '  interval: 15m',
        '  concurrency: 2',
        '',
      ].join('\n'),
    );
    base = `http://127.0.0.1:${port}`;

    daemon = startDaemon(configFile);
  });

  after(async () => {
    if (daemon && !daemon.exited()) {
      // A failed step: show what the daemon said, let it stop its runs itself, then make sure.
      console.error(`--- fleetcd daemon output ---\n${daemon.output()}\n--- end of daemon output ---`);
      const exited = once(daemon.child, 'exit');
      daemon.child.kill('SIGTERM');
      const timer = setTimeout(() => daemon.child.kill('SIGKILL'), 10_000);
      await exited.finally(() => clearTimeout(timer));
    }
    killGroups(ansibleProcessesUnder(root).map((line) => Number(line.split(' ')[0])));
    await hosts?.stop();
    repo?.cleanup();
    removeDir(root);
  });

  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}${path}`);
    const body = (await response.json()) as T;
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${excerpt(body)}`);
    return body;
  };
  const post = async (path: string, body: unknown): Promise<{ status: number; body: { runs: Array<{ id: number; target: string }> } }> => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as { runs: Array<{ id: number; target: string }> } };
  };

  /** Polls until `done(value)`; gives up at once when the daemon has exited. */
  const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> =>
    waitUntil(
      what,
      async () => {
        if (daemon.exited()) throw new GiveUp(`the daemon exited (${daemon.child.exitCode ?? daemon.child.signalCode})`);
        const value = await probe();
        return done(value) ? value : undefined;
      },
      timeoutMs,
      POLL_MS,
    );
  const targetOf = (status: Status, name: string): TargetView => {
    const target = status.targets.find((x) => x.name === name);
    assert.ok(target, `target ${name} in ${excerpt(status.targets.map((x) => x.name))}`);
    return target;
  };
  const finishedRun = (id: number): Promise<RunDetail> =>
    waitFor(`run #${id} to finish`, RUN_TIMEOUT_MS, () => get<RunDetail>(`/api/v1/runs/${id}`), (r) => finalStatuses.has(r.status));
  /** The run and every run it is followed by (check → apply → verify check), each once it has finished. */
  const followChain = async (firstId: number): Promise<RunDetail[]> => {
    const chain: RunDetail[] = [];
    let id: number | null = firstId;
    while (id !== null) {
      const run = await finishedRun(id);
      // The follower is recorded once the run has finished; the target stays `running` until its reconcile ends.
      const settled: { run: RunDetail; target: TargetDetail } = await waitFor(
        `what follows run #${id}`,
        10_000,
        async () => ({ run: await get<RunDetail>(`/api/v1/runs/${run.id}`), target: await get<TargetDetail>(`/api/v1/targets/${run.target}`) }),
        (x) => x.run.followedBy !== null || !x.target.running,
      );
      chain.push(settled.run);
      id = settled.run.followedBy;
    }
    return chain;
  };
  const reconcile = async (body: unknown): Promise<RunDetail[]> => {
    const response = await post('/api/v1/reconcile', body);
    assert.equal(response.status, 202, `POST /api/v1/reconcile ${excerpt(body)}: ${excerpt(response.body)}`);
    assert.equal(response.body.runs.length, 1);
    assert.equal(response.body.runs[0]?.target, 'prod');
    return followChain(response.body.runs[0]!.id);
  };

  test('comes up, clones and checks both targets at the first commit', async () => {
    // The daemon comes up, clones, and checks both targets at the first commit.
    step('daemon started');
    await waitFor('GET /healthz', 20_000, () => get<{ status: string }>('/healthz'), (h) => h.status === 'ok');
    step('healthz answers');
    const startup = await waitFor(
      'both targets to finish their startup check',
      RUN_TIMEOUT_MS,
      () => get<Status>('/api/v1/status'),
      (s) => ['prod', 'staging'].every((name) => s.targets.some((x) => x.name === name && x.lastRun?.finishedAt && !x.running)),
    );
    step('startup checks finished');
    assert.match(startup.revision?.sha ?? '', /^[0-9a-f]{40}$/);
    assert.equal(startup.revision?.sha, firstSha);
    assert.equal(startup.revision?.branch, 'main');
    assert.equal(startup.source.error, null);
    assert.match(startup.revision?.fetchedAt ?? '', isoUtc, 'CONTRACT-NOTES 11');
    assert.deepEqual(startup.targets.map((x) => x.name).sort(), ['prod', 'staging']);

    const staging = targetOf(startup, 'staging');
    assert.equal(staging.mode, 'detect');
    assert.equal(staging.status, 'drifted', 'a fresh sandbox: everything would change');
    const stagingCheck = await get<RunDetail>(`/api/v1/runs/${staging.lastRun!.id}`);
    assert.equal(stagingCheck.kind, 'check');
    assert.equal(stagingCheck.trigger, 'startup');
    assert.equal(stagingCheck.status, 'succeeded');
    assert.equal(stagingCheck.revision, firstSha);
    assert.equal(stagingCheck.followedBy, null, 'detect mode never applies');
    assert.deepEqual(changePairs(stagingCheck), [`host1 | ${CONFIG_TASK}`, `host1 | ${DATA_TASK}`]);

    const prod = targetOf(startup, 'prod');
    assert.equal(prod.mode, 'detect');
    // CONTRACT-NOTES 3: hosts not reached and nothing failed → `unreachable`, which outranks `drifted`.
    assert.equal(prod.status, 'unreachable');
    const prodCheck = await get<RunDetail>(`/api/v1/runs/${prod.lastRun!.id}`);
    assert.equal(prodCheck.kind, 'check');
    assert.equal(prodCheck.trigger, 'startup');
    assert.equal(prodCheck.status, 'succeeded', 'CONTRACT-NOTES 4: an unreachable host does not fail the run');
    assert.equal(prodCheck.revision, firstSha);
    assert.equal(prodCheck.followedBy, null);
    assert.match(prodCheck.startedAt ?? '', isoUtc, 'CONTRACT-NOTES 11');
    assert.match(prodCheck.finishedAt ?? '', isoUtc, 'CONTRACT-NOTES 11');
    assert.equal(prodCheck.summary.hosts, 3);
    assert.ok(prodCheck.summary.unreachable >= 1, `summary.unreachable for ghost: ${excerpt(prodCheck.summary)}`);
    assert.equal(prodCheck.summary.failed, 0);
    assert.equal(prodCheck.summary.changed, 4);
    assert.equal(prodCheck.hosts.find((h) => h.host === 'ghost')?.unreachable, 1);
    assert.deepEqual(changePairs(prodCheck), [
      `host1 | ${CONFIG_TASK}`,
      `host1 | ${DATA_TASK}`,
      `host2 | ${CONFIG_TASK}`,
      `host2 | ${DATA_TASK}`,
    ], 'unreachable hosts are never drift');
    assert.deepEqual(prodCheck.failures.map((f) => f.host), ['ghost']);
  });

  test('applies over the API: check → apply → verify check', async () => {
    // An apply requested over the API: check → apply → verify check.
    const firstApply = await reconcile({ targets: ['prod'], mode: 'apply' });
    step('first apply chain finished');
    assert.deepEqual(firstApply.map((r) => r.kind), ['check', 'apply', 'check']);
    assert.ok(firstApply.every((r) => r.status === 'succeeded' && r.trigger === 'api' && r.revision === firstSha), excerpt(firstApply));
    const [, applied, verified] = firstApply;
    assert.deepEqual(changePairs(applied!), [
      `host1 | ${CONFIG_TASK}`,
      `host1 | ${DATA_TASK}`,
      `host2 | ${CONFIG_TASK}`,
      `host2 | ${DATA_TASK}`,
    ]);
    assert.equal(verified!.summary.changed, 0, `verify check: ${excerpt(verified!.changes)}`);
    for (const host of ['host1', 'host2']) {
      assert.equal(readFileSync(configOf('prod', host), 'utf8'), `version = 1.0.0\nhost = ${host}\n`);
      assert.ok(statSync(join(sandbox('prod', host), 'data')).isDirectory(), `${host}: data directory`);
    }
    assert.throws(() => readFileSync(configOf('staging', 'host1')), /ENOENT/, 'staging (detect) was not applied');
    assert.throws(() => readFileSync(configOf('prod', 'ghost')), /ENOENT/);
  });

  test('fetches a new commit within seconds and checks every target at it', async () => {
    // A commit: the daemon fetches it within seconds and checks every target at the new revision.
    secondSha = await repo.commit(
      { 'inventories/prod.yml': inventory('prod', [host1, host2], '1.1.0', true) },
      'prod: app 1.1.0',
    );
    await waitFor('the daemon to fetch the new commit', 15_000, () => get<Status>('/api/v1/status'), (s) => s.revision?.sha === secondSha);
    step('new commit fetched');
    const commitRuns = await waitFor(
      'a commit-triggered check of prod and staging at the new revision',
      15_000,
      () => get<{ runs: RunSummary[] }>('/api/v1/runs?limit=50'),
      ({ runs }) => ['prod', 'staging'].every((name) => runs.some((r) => r.target === name && r.trigger === 'commit' && r.revision === secondSha)),
    );
    const commitCheckOf = (name: string): RunSummary =>
      commitRuns.runs.find((r) => r.target === name && r.trigger === 'commit' && r.revision === secondSha)!;
    const commitCheck = await finishedRun(commitCheckOf('prod').id);
    await finishedRun(commitCheckOf('staging').id);
    await waitFor('both targets to be idle', RUN_TIMEOUT_MS, () => get<Status>('/api/v1/status'), (s) => s.targets.every((x) => !x.running));
    step('commit checks finished');
    assert.equal(commitCheck.kind, 'check');
    assert.equal(commitCheck.status, 'succeeded');
    assert.equal(commitCheck.followedBy, null, 'detect mode never applies');
    assert.deepEqual(changePairs(commitCheck), [`host1 | ${CONFIG_TASK}`, `host2 | ${CONFIG_TASK}`]);
    for (const change of commitCheck.changes) {
      assert.equal(change.module, 'ansible.builtin.copy');
      assert.match(diffText(change.diff, 'before'), /version = 1\.0\.0/, excerpt(change.diff));
      assert.match(diffText(change.diff, 'after'), /version = 1\.1\.0/, excerpt(change.diff));
      assert.doesNotMatch(diffText(change.diff, 'after'), /version = 1\.0\.0/);
    }
  });

  test('applies the new revision', async () => {
    // Apply the new revision, so that what follows shows only a local edit.
    const secondApply = await reconcile({ targets: ['prod'], mode: 'apply' });
    step('second apply chain finished');
    assert.deepEqual(secondApply.map((r) => r.kind), ['check', 'apply', 'check']);
    assert.ok(secondApply.every((r) => r.status === 'succeeded' && r.revision === secondSha), excerpt(secondApply));
    assert.deepEqual(changePairs(secondApply[1]!), [`host1 | ${CONFIG_TASK}`, `host2 | ${CONFIG_TASK}`]);
    assert.equal(secondApply[2]!.summary.changed, 0);
    for (const host of ['host1', 'host2']) {
      assert.equal(readFileSync(configOf('prod', host), 'utf8'), `version = 1.1.0\nhost = ${host}\n`);
    }
  });

  test('finds a hand edit on one host as exactly that drift, without touching the host', async () => {
    // Drift by hand on host2; a reconcile that follows the mode (detect) only checks, and sees exactly that.
    writeFileSync(configOf('prod', 'host2'), 'version = hand-edited\n');
    const driftCheck = await reconcile({ targets: ['prod'] });
    step('drift check finished');
    assert.equal(driftCheck.length, 1, `detect mode: the check is not followed: ${excerpt(driftCheck)}`);
    const [drift] = driftCheck;
    assert.equal(drift!.kind, 'check');
    assert.equal(drift!.status, 'succeeded');
    assert.equal(drift!.revision, secondSha);
    assert.equal(drift!.summary.changed, 1);
    assert.deepEqual(changePairs(drift!), [`host2 | ${CONFIG_TASK}`]);
    assert.match(diffText(drift!.changes[0]!.diff, 'before'), /hand-edited/);
    assert.match(diffText(drift!.changes[0]!.diff, 'after'), /version = 1\.1\.0/);
    assert.equal(readFileSync(configOf('prod', 'host2'), 'utf8'), 'version = hand-edited\n', 'a check never changes a host');
    const drifted = await get<TargetDetail>('/api/v1/targets/prod');
    assert.equal(drifted.status, 'unreachable', 'CONTRACT-NOTES 3: ghost was not reached and nothing failed');
    assert.deepEqual(
      drifted.hosts.map((h) => [h.name, h.status, h.changedTasks]),
      [['ghost', 'unreachable', 0], ['host1', 'in-sync', 0], ['host2', 'drifted', 1]],
    );
  });

  test('heals that drift on that host only; the verify check is clean', async () => {
    // Apply: only the drifted host is touched, the file is restored, the verify check is clean.
    const repair = await reconcile({ targets: ['prod'], mode: 'apply' });
    step('repair chain finished');
    assert.deepEqual(repair.map((r) => r.kind), ['check', 'apply', 'check']);
    assert.ok(repair.every((r) => r.status === 'succeeded'), excerpt(repair));
    assert.deepEqual(changePairs(repair[0]!), [`host2 | ${CONFIG_TASK}`]);
    assert.deepEqual(changePairs(repair[1]!), [`host2 | ${CONFIG_TASK}`]);
    assert.deepEqual(repair[1]!.hosts.map((h) => h.host), ['host2'], 'the apply is limited to the drifted host');
    assert.equal(repair[2]!.summary.changed, 0);
    assert.deepEqual(repair[2]!.changes, []);
    assert.equal(readFileSync(configOf('prod', 'host2'), 'utf8'), 'version = 1.1.0\nhost = host2\n');
    const final = await get<TargetDetail>('/api/v1/targets/prod');
    assert.equal(final.running, false);
    assert.equal(final.lastRun?.id, repair[2]!.id);
    assert.deepEqual(
      final.hosts.map((h) => [h.name, h.status]),
      [['ghost', 'unreachable'], ['host1', 'in-sync'], ['host2', 'in-sync']],
    );
  });

  test('answers the CLI from the running daemon', async () => {
    // The CLI reads the same status from the running daemon.
    const cli = runCli('status', '--config', configFile);
    const cliOut = cli.out + cli.err;
    assert.equal(cli.code, 0, cliOut);
    assert.match(cliOut, /^prod\s/m, cliOut);
    assert.match(cliOut, /^staging\s/m, cliOut);
    assert.match(cliOut, new RegExp(secondSha.slice(0, 12)), cliOut);
    // An answer of the daemon that is not a success comes through as the daemon said it.
    const missing = runCli('show', '999999', '--config', configFile);
    assert.equal(missing.code, 1);
    assert.equal(missing.err.trim(), 'fleetcd: no run with id 999999');
  });

  test('stops on SIGTERM with exit 0 and leaves no ansible-playbook behind', async () => {
    // SIGTERM: a clean exit, and no ansible-playbook of this daemon left behind.
    const exit = once(daemon.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const stopAt = Date.now();
    daemon.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const [code, signal] = await Promise.race([
      exit,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the daemon did not exit within 35 s of SIGTERM')), 35_000);
      }),
    ]).finally(() => clearTimeout(timer));
    step(`daemon exited after SIGTERM in ${Date.now() - stopAt} ms`);
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.deepEqual(ansibleProcessesUnder(root), []);
    step('done');
  });
});
