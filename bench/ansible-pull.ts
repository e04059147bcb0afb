/**
 * Benchmark 2 of issues 12 and 19: fleetcd against a raw apply by hand and against ansible-pull on the same
 * repository (two sshd hosts, the realistic playbook; each commit changes the templated config's version, so
 * every host really changes).
 *
 * Interleaved rounds, one change each:
 *   raw      `ansible-playbook -i inventories/web.yml playbooks/site.yml` from a checkout, as a person runs it
 *            (Ansible's defaults): spawn → exit, the floor issue 19 measures against; and the same on fleetcd's
 *            settings (pipelining, ControlPersist, fact cache: bench/fixture.ts) for reference;
 *   auto     fleetcd (mode apply, precheck: auto) told by a signed POST /api/v1/webhooks/git: commit pushed →
 *            the apply run finished (hosts changed) and → its verify check finished (verified);
 *   always   the same with precheck: always (check → apply → verify, the chain before issue 19), set by SIGHUP;
 *   poll     the daemon (precheck: auto) finding the commit by polling every POLL s: measured, and the expected
 *            value POLL/2 + (apply finished − first run queued);
 *   pull     `ansible-pull -U <repo> -d <dir> -i <inventory> -l 'all:!localhost' playbooks/site.yml` right after
 *            the commit: its run, and the expected value on the same schedule, POLL/2 + run.
 * Raw applies and ansible-pull read other clones (fleetcd would otherwise apply their commits too). Then the cost
 * of a poll when nothing changed: GitSource.fetch() (bench/source-fetch.ts) against `ansible-pull -o` (quits
 * when the repository did not change), interleaved. The load average is reported: the machine may be shared.
 *
 *   npm run build && node --import tsx bench/ansible-pull.ts [--quick] [--rounds 5] [--poll 5] [--unchanged 10]
 */
import { createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { RunSummary } from '../src/api/schemas.js';
import { startSshHosts } from '../test/helpers/sshd.js';
import { removeDir, tempDir } from '../test/helpers/tmp.js';
import { waitFor } from '../test/helpers/wait.js';
import { ansiblePlaybook, appVars, daemonIdle, daemonStarted, fleetcdSettingsEnv, realisticRepo, sshInventory, startBenchDaemon } from './fixture.js';
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
  let precheck: 'auto' | 'always' = 'auto';
  const configText = (d: { repo: { origin: string }; stateDir: string; base: string; dir: string }): string =>
    [
      `repository: { url: ${JSON.stringify(d.repo.origin)}, pollInterval: ${pollSeconds}s, webhookSecretFile: ${JSON.stringify(secretFile)} }`,
      `stateDir: ${JSON.stringify(d.stateDir)}`,
      `api: { listen: "${d.base.replace('http://', '')}", tokenFile: ${JSON.stringify(join(d.dir, 'api-token'))} }`,
      `reconcile: { mode: apply, precheck: ${precheck}, interval: 1h, jitter: 0%, shutdownGrace: 0s }`,
      '',
    ].join('\n');
  const d = await startBenchDaemon(realisticRepo({ web: sshInventory(sshd, join(dir, 'hosts')) }), 'reconcile: { shutdownGrace: 0s }', configText);
  await daemonStarted(d, 1);
  /** Sets precheck by SIGHUP (before every webhook round, so both variants pay the same). */
  const usePrecheck = async (value: 'auto' | 'always'): Promise<void> => {
    precheck = value;
    const before = (await d.status()).config.loadedAt;
    writeFileSync(d.configFile, configText(d));
    d.process.child.kill('SIGHUP');
    await waitFor('the reload', async () => (await d.status()).config.loadedAt !== before, 30_000, 100);
  };

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

  // The raw applies' own checkout (same hosts, same playbook): a clone whose vars.yml each round edits.
  const rawDir = join(dir, 'raw-checkout');
  git(dir, 'clone', '-q', d.repo.origin, rawDir);
  const byHandEnv = envWithoutAnsible({ ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'raw-ssh') });
  const sameSettingsEnv = fleetcdSettingsEnv(rawDir, join(dir, 'raw-fleetcd-settings'));
  const rawApply = async (env: Record<string, string>): Promise<number> => {
    writeFileSync(join(rawDir, 'playbooks', 'vars.yml'), appVars(String(++version)));
    return (await ansiblePlaybook(rawDir, ['-i', 'inventories/web.yml', 'playbooks/site.yml'], env)).ms;
  };
  await rawApply(sameSettingsEnv); // fills this env's fact cache, as fleetcd's runs fill the daemon's

  /** The reconcile of a commit once its verify ended: its first run (the check, or the apply itself), apply and verify. */
  const converged = (sha: string, expected: readonly string[]) =>
    waitFor(`the reconcile of ${sha.slice(0, 8)}`, async () => {
      const { runs } = await d.get<{ runs: RunSummary[] }>('/api/v1/runs?target=web&limit=20');
      const at = runs.filter((r) => r.revision === sha).sort((a, b) => a.id - b.id);
      const apply = at.find((r) => r.kind === 'apply');
      const verify = apply && at.find((r) => r.id === apply.followedBy);
      if (!apply || !verify || !final.has(verify.status)) return undefined;
      if (apply.status !== 'succeeded') throw new Error(`apply run #${apply.id} ended ${apply.status}: ${apply.error}`);
      const kinds = at.map((r) => r.kind).join(' → ');
      if (kinds !== expected.join(' → ')) throw new Error(`runs at ${sha.slice(0, 8)}: ${kinds}, expected ${expected.join(' → ')}`);
      return { first: at[0]!, apply, verify };
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

  /** A commit told by webhook under `value`: commit → apply finished and → verify finished. */
  const webhookRound = async (value: 'auto' | 'always', changed: number[], verified: number[]): Promise<void> => {
    await usePrecheck(value);
    const w = await commitForFleetcd();
    await webhook(w.sha);
    const wr = await converged(w.sha, value === 'auto' ? ['apply', 'check'] : ['check', 'apply', 'check']);
    changed.push(Date.parse(wr.apply.finishedAt!) - w.at);
    verified.push(Date.parse(wr.verify.finishedAt!) - w.at);
    await daemonIdle(d);
  };

  await ansiblePull(); // the first clone
  const samples = (): number[] => [];
  const [autoChanged, autoVerified, alwaysChanged, alwaysVerified] = [samples(), samples(), samples(), samples()];
  const [rawByHand, rawSameSettings, viaPoll, pollRun, pull, load] = [samples(), samples(), samples(), samples(), samples(), samples()];
  for (let r = 0; r < rounds; r++) {
    load.push(loadavg()[0]!);
    rawByHand.push(await rawApply(byHandEnv));
    await webhookRound('auto', autoChanged, autoVerified);
    rawSameSettings.push(await rawApply(sameSettingsEnv));
    await webhookRound('always', alwaysChanged, alwaysVerified);

    // A commit lands at a random moment of the poll cycle.
    await usePrecheck('auto');
    const p = await commitForFleetcd();
    const pr = await converged(p.sha, ['apply', 'check']);
    viaPoll.push(Date.parse(pr.apply.finishedAt!) - p.at);
    pollRun.push(Date.parse(pr.apply.finishedAt!) - Date.parse(pr.first.queuedAt));
    await daemonIdle(d);

    const at = commitForPull();
    await ansiblePull();
    pull.push(Date.now() - at);
    const sec = (list: number[]): number => round(list.at(-1)! / 1000);
    progress(
      `round ${r + 1}/${rounds} (load ${round(load.at(-1)!)}): raw ${sec(rawByHand)} s (fleetcd settings ${sec(rawSameSettings)} s), ` +
        `auto ${sec(autoChanged)}/${sec(autoVerified)} s, always ${sec(alwaysChanged)}/${sec(alwaysVerified)} s, poll ${sec(viaPoll)} s, ansible-pull ${sec(pull)} s`,
    );
  }
  load.push(loadavg()[0]!);

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
    title: `Commit to converged against a raw apply and ansible-pull (2 sshd hosts), poll/schedule every ${pollSeconds} s`,
    command: commandLine('ansible-pull.ts'),
    figures: [
      { name: 'raw ansible-playbook apply by hand (Ansible defaults), median', value: s(median(rawByHand)), unit: 's', how: `on fleetcd's settings (pipelining, ControlPersist, fact cache): median ${s(median(rawSameSettings))} s` },
      { name: 'fleetcd, webhook, precheck auto: commit → hosts changed (apply finished), median', value: s(median(autoChanged)), unit: 's' },
      { name: 'fleetcd, webhook, precheck auto: commit → verified, median', value: s(median(autoVerified)), unit: 's' },
      { name: 'commit → hosts changed / raw apply by hand', value: round(median(autoChanged) / median(rawByHand), 3), unit: '×', goal: { op: '<=', value: 1.1 }, how: `against the raw apply on fleetcd's settings: ${round(median(autoChanged) / median(rawSameSettings), 3)} ×` },
      { name: 'commit → verified / raw apply by hand', value: round(median(autoVerified) / median(rawByHand), 3), unit: '×', goal: { op: '<=', value: 2.1 }, how: `against the raw apply on fleetcd's settings: ${round(median(autoVerified) / median(rawSameSettings), 3)} ×` },
      { name: 'fleetcd, webhook, precheck always: commit → hosts changed, median', value: s(median(alwaysChanged)), unit: 's', how: `verified at ${s(median(alwaysVerified))} s; check → apply → verify, the chain before issue 19` },
      { name: `fleetcd, polling every ${pollSeconds} s: expected (poll/2 + run)`, value: s(pollExpected), unit: 's', how: `run = apply finished − first run queued, median ${s(median(pollRun))} s; measured median ${s(median(viaPoll))} s` },
      { name: `ansible-pull every ${pollSeconds} s: expected (period/2 + run)`, value: s(pullExpected), unit: 's', how: `run = commit → ansible-pull exit, median ${s(median(pull))} s` },
      { name: 'fleetcd webhook (auto) / ansible-pull expected', value: round(median(autoChanged) / pullExpected, 3), unit: '×' },
      { name: 'fleetcd polling / ansible-pull, both expected', value: round(pollExpected / pullExpected, 3), unit: '×' },
      { name: 'unchanged poll: fleetcd GitSource.fetch(), median', value: round(median(fleetcdPoll), 1), unit: 'ms' },
      { name: 'unchanged poll: ansible-pull -o, median', value: round(median(pullPoll), 0), unit: 'ms' },
      { name: 'unchanged poll: fleetcd / ansible-pull -o', value: round(median(fleetcdPoll) / median(pullPoll), 4), unit: '×' },
      { name: 'load average (1 min) during the rounds, median', value: round(median(load)), how: `from ${round(Math.min(...load))} to ${round(Math.max(...load))} on ${cpus().length} cores` },
    ],
    series: [
      series('raw apply by hand (Ansible defaults)', 's', rawByHand.map((v) => v / 1000)),
      series("raw apply on fleetcd's settings", 's', rawSameSettings.map((v) => v / 1000)),
      series('auto: commit → apply finished', 's', autoChanged.map((v) => v / 1000)),
      series('auto: commit → verify finished', 's', autoVerified.map((v) => v / 1000)),
      series('always: commit → apply finished', 's', alwaysChanged.map((v) => v / 1000)),
      series('always: commit → verify finished', 's', alwaysVerified.map((v) => v / 1000)),
      series('poll (auto): commit → apply finished (measured)', 's', viaPoll.map((v) => v / 1000)),
      series('poll (auto): first run queued → apply finished', 's', pollRun.map((v) => v / 1000)),
      series('ansible-pull: commit → exit', 's', pull.map((v) => v / 1000)),
      series('load average (1 min), at each round and at the end', '', load),
      series('unchanged: fleetcd fetch', 'ms', fleetcdPoll, 1),
      series('unchanged: ansible-pull -o', 'ms', pullPoll, 0),
    ],
    notes: [
      'With precheck auto a new commit is one Ansible run (the apply, with --diff) before the hosts have it, then the verify check; with always it is check → apply → verify. Both over SSH with fleetcd\'s fast settings (pipelining, ControlPersist, a fact cache kept for the interval).',
      'The raw apply is timed from spawn to exit of ansible-playbook; fleetcd from the push of the commit (then the webhook: fetch, checkout, queue) to the end of its apply run. Rounds interleave raw, auto, raw on fleetcd settings, always, poll, ansible-pull; each round changes the same file on the same two hosts.',
      'ansible-pull always runs the playbook with -c local (it is meant to run on each host); here one ansible-pull covers both hosts, whose folders are on this machine. It pays for a git module run through `ansible` first.',
      "ansible-pull and the raw apply by hand run with Ansible's defaults. ansible-pull's expected latency assumes a cron at the same period as fleetcd's poll.",
    ],
  });
}, 45 * 60_000);
