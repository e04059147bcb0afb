/**
 * Benchmark 2 of issue 12: fleetcd against ansible-pull on the same repository (two sshd hosts, the realistic
 * playbook; each commit changes the templated config's version, so every host really changes).
 *
 * Interleaved rounds of three commits:
 *   webhook  fleetcd (mode apply) told by a signed POST /api/v1/webhooks/git: commit pushed → the apply run of
 *            that commit finished (hosts converged; the verify check after it is reported too);
 *   poll     the same daemon finding the commit by polling every POLL s: measured, and the expected value
 *            POLL/2 + (apply finished − check queued);
 *   pull     `ansible-pull -U <repo> -d <dir> -i <inventory> -l 'all:!localhost' playbooks/site.yml` right after
 *            the commit: its run, and the expected value on the same schedule, POLL/2 + run.
 * ansible-pull reads a second bare repository holding the same history (fleetcd would otherwise apply the pull
 * rounds' commits too). Then the cost of a poll when nothing changed: GitSource.fetch() (bench/source-fetch.ts)
 * against `ansible-pull -o` (quits when the repository did not change), interleaved.
 *
 *   npm run build && node --import tsx bench/ansible-pull.ts [--quick] [--rounds 5] [--poll 5] [--unchanged 10]
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSummary } from '../src/api/schemas.js';
import { startSshHosts } from '../test/helpers/sshd.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { waitFor } from '../test/helpers/wait.js';
import { appVars, daemonIdle, daemonStarted, realisticRepo, sshInventory, startBenchDaemon } from './fixture.js';
import { commandLine, emit, envWithoutAnsible, median, onCleanup, option, progress, round, runBench, series, timed } from './lib.js';
import { openSource } from './source-fetch.js';

const rounds = option('--rounds', 5, 1);
const pollSeconds = option('--poll', 5);
const unchangedRuns = option('--unchanged', 10, 3);
const secret = 'bench-webhook-secret';
const final = new Set(['succeeded', 'failed', 'timed-out', 'interrupted', 'cancelled']);

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }).trim();

await runBench(async () => {
  const dir = tempDir('fleetcd-bench-pull-');
  onCleanup(() => removeDir(dir));
  const sshd = await startSshHosts(2);
  onCleanup(() => sshd.stop());
  const secretFile = join(dir, 'webhook-secret');
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  const d = await startBenchDaemon(
    realisticRepo({ web: sshInventory(sshd, join(dir, 'hosts')) }),
    'reconcile: { shutdownGrace: 0s }',
    (d) =>
      [
        `repository: { url: ${JSON.stringify(d.repo.origin)}, pollInterval: ${pollSeconds}s, webhookSecretFile: ${JSON.stringify(secretFile)} }`,
        `stateDir: ${JSON.stringify(d.stateDir)}`,
        `api: { listen: "${d.base.replace('http://', '')}", tokenFile: ${JSON.stringify(join(d.dir, 'api-token'))} }`,
        'reconcile: { mode: apply, interval: 1h, jitter: 0%, shutdownGrace: 0s }',
        '',
      ].join('\n'),
  );
  await daemonStarted(d, 1);

  // ansible-pull's own repository: the same history, pushed to only in its rounds.
  const pullOrigin = join(dir, 'pull-origin.git');
  git(dir, 'clone', '-q', '--bare', d.repo.origin, pullOrigin);
  git(d.repo.work, 'remote', 'add', 'pull', pullOrigin);
  const pullDir = join(dir, 'pull-checkout');
  const pullEnv = envWithoutAnsible({ ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'pull-ssh') });
  const pullArgs = (onlyIfChanged: boolean): string[] => [
    '-U', pullOrigin, '-d', pullDir, '-i', join(pullDir, 'inventories', 'web.yml'), '-i', 'localhost,', '-l', 'all:!localhost',
    ...(onlyIfChanged ? ['-o'] : []), 'playbooks/site.yml',
  ];
  const ansiblePull = async (onlyIfChanged = false) => {
    const run = await timed('ansible-pull', pullArgs(onlyIfChanged), { cwd: dir, env: pullEnv, timeoutMs: 10 * 60_000 });
    if (run.code !== 0) throw new Error(`ansible-pull exited ${run.code}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-1000)}`);
    return run;
  };

  let version = 1;
  const commitForFleetcd = async (): Promise<{ sha: string; at: number }> => {
    const sha = await d.repo.commit({ 'playbooks/vars.yml': appVars(String(++version)) }, `version ${version}`);
    return { sha, at: Date.now() };
  };
  const commitForPull = (): number => {
    writeFileSync(join(d.repo.work, 'playbooks', 'vars.yml'), appVars(String(++version)));
    git(d.repo.work, 'commit', '-q', '-am', `version ${version} (pull)`);
    git(d.repo.work, 'push', '-q', 'pull', 'HEAD:refs/heads/main');
    return Date.now();
  };
  /** The check, apply and verify of a commit, once the verify ended. */
  const converged = (sha: string) =>
    waitFor(`the reconcile of ${sha.slice(0, 8)}`, async () => {
      const { runs } = await d.get<{ runs: RunSummary[] }>('/api/v1/runs?target=web&limit=20');
      const apply = runs.find((r) => r.revision === sha && r.kind === 'apply');
      const check = apply && runs.find((r) => r.followedBy === apply.id);
      const verify = apply && runs.find((r) => r.id === apply.followedBy);
      if (!apply || !check || !verify || !final.has(verify.status)) return undefined;
      if (apply.status !== 'succeeded') throw new Error(`apply run #${apply.id} ended ${apply.status}: ${apply.error}`);
      return { check, apply, verify };
    }, 10 * 60_000, 250);
  const webhook = async (sha: string): Promise<void> => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha });
    const signature = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    const reply = await fetch(`${d.base}/api/v1/webhooks/git`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': signature },
      body,
    });
    if (reply.status !== 202) throw new Error(`webhook answered ${reply.status}: ${await reply.text()}`);
  };

  await ansiblePull(); // the first clone
  const viaWebhook: number[] = [];
  const webhookVerified: number[] = [];
  const viaPoll: number[] = [];
  const pollRun: number[] = [];
  const pull: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const w = await commitForFleetcd();
    await webhook(w.sha);
    const wr = await converged(w.sha);
    viaWebhook.push(Date.parse(wr.apply.finishedAt!) - w.at);
    webhookVerified.push(Date.parse(wr.verify.finishedAt!) - w.at);
    await daemonIdle(d);

    // A commit lands at a random moment of the poll cycle.
    const p = await commitForFleetcd();
    const pr = await converged(p.sha);
    viaPoll.push(Date.parse(pr.apply.finishedAt!) - p.at);
    pollRun.push(Date.parse(pr.apply.finishedAt!) - Date.parse(pr.check.queuedAt));
    await daemonIdle(d);

    const at = commitForPull();
    await ansiblePull();
    pull.push(Date.now() - at);
    progress(
      `round ${r + 1}/${rounds}: webhook ${round(viaWebhook.at(-1)! / 1000)} s, poll ${round(viaPoll.at(-1)! / 1000)} s (run ${round(pollRun.at(-1)! / 1000)} s), ansible-pull run ${round(pull.at(-1)! / 1000)} s`,
    );
  }

  // A poll when nothing changed: fleetcd's fetch of the unchanged origin, ansible-pull -o on its unchanged repo.
  const source = openSource({ url: d.repo.origin });
  onCleanup(() => source.close());
  await source.fetch();
  const fleetcdPoll: number[] = [];
  const pullPoll: number[] = [];
  for (let i = 0; i < unchangedRuns; i++) {
    const started = performance.now();
    await source.fetch();
    fleetcdPoll.push(performance.now() - started);
    const quiet = await ansiblePull(true);
    if (!quiet.stdout.includes('Repository has not changed')) throw new Error(`ansible-pull -o ran the playbook:\n${quiet.stdout.slice(-2000)}`);
    pullPoll.push(quiet.ms);
  }

  const half = (pollSeconds * 1000) / 2;
  const pollExpected = half + median(pollRun);
  const pullExpected = half + median(pull);
  const s = (ms: number): number => round(ms / 1000);
  emit({
    id: '2',
    title: `Against ansible-pull: commit to converged (2 sshd hosts), poll/schedule every ${pollSeconds} s`,
    command: commandLine('ansible-pull.ts'),
    figures: [
      { name: 'fleetcd, webhook: commit → apply finished, median', value: s(median(viaWebhook)), unit: 's', how: `verify check done at ${s(median(webhookVerified))} s` },
      { name: `fleetcd, polling every ${pollSeconds} s: expected (poll/2 + run)`, value: s(pollExpected), unit: 's', how: `run = apply finished − check queued, median ${s(median(pollRun))} s; measured median ${s(median(viaPoll))} s` },
      { name: `ansible-pull every ${pollSeconds} s: expected (period/2 + run)`, value: s(pullExpected), unit: 's', how: `run = commit → ansible-pull exit, median ${s(median(pull))} s` },
      { name: 'fleetcd webhook / ansible-pull expected', value: round(median(viaWebhook) / pullExpected, 3), unit: '×' },
      { name: 'fleetcd polling / ansible-pull, both expected', value: round(pollExpected / pullExpected, 3), unit: '×' },
      { name: 'unchanged poll: fleetcd GitSource.fetch(), median', value: round(median(fleetcdPoll), 1), unit: 'ms' },
      { name: 'unchanged poll: ansible-pull -o, median', value: round(median(pullPoll), 0), unit: 'ms' },
      { name: 'unchanged poll: fleetcd / ansible-pull -o', value: round(median(fleetcdPoll) / median(pullPoll), 4), unit: '×' },
    ],
    series: [
      series('fleetcd webhook: commit → apply finished', 's', viaWebhook.map((v) => v / 1000)),
      series('fleetcd webhook: commit → verify finished', 's', webhookVerified.map((v) => v / 1000)),
      series('fleetcd poll: commit → apply finished (measured)', 's', viaPoll.map((v) => v / 1000)),
      series('fleetcd poll: check queued → apply finished', 's', pollRun.map((v) => v / 1000)),
      series('ansible-pull: commit → exit', 's', pull.map((v) => v / 1000)),
      series('unchanged: fleetcd fetch', 'ms', fleetcdPoll, 1),
      series('unchanged: ansible-pull -o', 'ms', pullPoll, 0),
    ],
    notes: [
      'fleetcd converges with a check, then an apply (then a verify check after convergence): two Ansible runs before the hosts are converged, over SSH with its fast settings.',
      'ansible-pull always runs the playbook with -c local (it is meant to run on each host); here one ansible-pull covers both hosts, whose folders are on this machine. It pays for a git module run through `ansible` first.',
      "ansible-pull runs with Ansible's defaults. Its expected latency assumes a cron at the same period as fleetcd's poll.",
    ],
  });
}, 30 * 60_000);
