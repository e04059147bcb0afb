/**
 * Source faults while the daemon polls every second or two: the remote disappears for 3 polls and comes back;
 * a force-push; a corrupt mirror (alone, and with the remote gone at the same time). Throughout, a reader asks
 * for the status every 100 ms: the daemon must answer all of it, report the fault in `source.error` (or, for a
 * mirror it could clone again on the spot, in `lastRecovery`), keep the last good revision, and recover within
 * one poll once the fault is gone.
 */
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SourceView } from '../../src/api/schemas.js';
import { startDaemonFleet, type RunningDaemon } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { waitFor } from '../../test/helpers/wait.js';
import { idle, localHosts, ms, percentile, reconfigureRepository, scenario, watchServing, type Mode, type ServingWatch, type Recorder, type ScenarioResult } from './common.js';

const sizes = { short: { pollMs: 1000, damages: ['a garbage HEAD'] }, full: { pollMs: 2000, damages: ['a garbage HEAD', 'a lost object store', 'a garbage config'] } } as const;
type Damage = (typeof sizes.full.damages)[number];

const playbook = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.copy: { dest: "{{ host_root }}/motd", content: "{{ lookup('file', playbook_dir ~ '/../motd.txt') }}" }
`;

export function sourceFaults(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('source-faults', 'Source faults', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-source-');
    const d = await startDaemonFleet({ 'playbooks/site.yml': playbook, 'motd.txt': 'one', 'inventories/web.yml': localHosts(sandbox, ['w1']) }, 'reconcile: { interval: 1h }');
    let watching: ServingWatch | undefined;
    try {
      const watch = await watchServing(d, '/api/v1/status', 5000);
      watching = watch;
      await reconfigureRepository(d, { pollInterval: `${size.pollMs}ms` });
      await idle(d);
      r.step(
        `Started a daemon over one target, reloaded it with \`repository.pollInterval: ${size.pollMs}ms\`, and read \`GET /api/v1/status\` ` +
          'every 100 ms (5 s timeout) from then on.',
      );
      await remoteGone(r, d, size.pollMs);
      await forcePush(r, d, size.pollMs);
      for (const damage of size.damages) await corruptMirror(r, d, damage, size.pollMs, false);
      await corruptMirror(r, d, 'a garbage HEAD', size.pollMs, true);
      const seen = await watch.stop();
      r.check('the daemon answered every status read throughout', seen.failures.length === 0 && seen.latencies.length > 0, `${seen.latencies.length} reads, ${seen.failures.length} failed${seen.failures.length ? `: ${seen.failures.slice(0, 3).join('; ')}` : ''}`);
      r.figure('status read latency during the faults p50 / p99 / max', `${ms(percentile(seen.latencies, 50))} / ${ms(percentile(seen.latencies, 99))} / ${ms(Math.max(...seen.latencies))}`);
    } finally {
      await watching?.stop();
      await d.cleanup();
      removeDir(sandbox);
    }
  });
}

/** The remote is renamed away for three failed polls, a reconcile runs meanwhile, then it is put back. */
async function remoteGone(r: Recorder, d: RunningDaemon, pollMs: number): Promise<void> {
  const good = (await d.status()).revision!.sha;
  const errors0 = await fetchErrors(d);
  renameSync(d.repo.origin, `${d.repo.origin}.gone`);
  const during = await waitFor('3 failed polls', async () => ((await fetchErrors(d)) >= errors0 + 3 ? d.status() : undefined), 60_000, 100);
  r.step('Renamed the bare remote away until three polls had failed (`fleetcd_source_fetch_errors_total` +3), asked for a check meanwhile, then put it back.');
  r.check('remote gone: source.error reports it', /cannot fetch main/.test(during.source.error ?? ''), during.source.error?.slice(0, 160) ?? 'null');
  r.check('remote gone: the last good revision stays in use', during.revision?.sha === good, `${during.revision?.sha.slice(0, 12)} (good: ${good.slice(0, 12)})`);
  const [check] = await d.chain((await d.reconcile({ mode: 'check' })).runs[0]!.id);
  r.check('remote gone: a reconcile still runs, at the last good revision', check?.status === 'succeeded' && check.revision === good, `run #${check?.id} ${check?.status} at ${check?.revision.slice(0, 12)}`);
  const errorsAtReturn = await fetchErrors(d);
  renameSync(`${d.repo.origin}.gone`, d.repo.origin);
  const back = performance.now();
  const recovered = await waitFor('source.error to clear', async () => ((await d.status()).source.error === null ? performance.now() - back : undefined), 30_000, 50);
  const failedAfter = (await fetchErrors(d)) - errorsAtReturn;
  r.check('remote back: recovers within one poll (at most one failed attempt, one already under way)', failedAfter <= 1, `source.error cleared ${ms(recovered)} after the remote came back; ${failedAfter} failed attempts after it`);
  r.figure('remote back → source.error cleared', `${ms(recovered)} (poll ${ms(pollMs)})`);
}

/** A commit is followed, then the branch is rewritten under it and force-pushed. */
async function forcePush(r: Recorder, d: RunningDaemon, pollMs: number): Promise<void> {
  const second = await d.repo.commit({ 'motd.txt': 'two' }, 'second');
  await waitFor('the second commit', async () => (await d.status()).revision?.sha === second, 30_000, 50);
  git(d.repo.work, 'reset', '-q', '--hard', 'HEAD~1');
  writeFileSync(join(d.repo.work, 'motd.txt'), 'rewritten');
  git(d.repo.work, 'commit', '-q', '-am', 'rewritten history');
  const rewritten = git(d.repo.work, 'rev-parse', 'HEAD');
  git(d.repo.work, 'push', '-q', '--force', 'origin', 'HEAD:refs/heads/main');
  const pushed = performance.now();
  await waitFor('the force-pushed tip', async () => (await d.status()).revision?.sha === rewritten, 30_000, 50);
  const followedMs = performance.now() - pushed;
  r.step('Committed a second revision, waited for it, then reset the branch to its parent, committed over it and force-pushed.');
  const source = await d.get<SourceView>('/api/v1/source');
  const entry = source.history.find((h) => h.sha === rewritten);
  r.check('force-push: the rewritten tip is followed, recorded as forced', entry?.status === 'accepted' && entry.forced === true, `${rewritten.slice(0, 12)} ${entry?.status} forced=${entry?.forced} after ${ms(followedMs)}`);
  const [check] = await d.chain((await d.reconcile({ mode: 'check' })).runs[0]!.id);
  r.check('force-push: a reconcile runs at the rewritten tip', check?.status === 'succeeded' && check.revision === rewritten, `run #${check?.id} ${check?.status} at ${check?.revision.slice(0, 12)}`);
  r.figure('force-push → new tip in use', `${ms(followedMs)} (poll ${ms(pollMs)})`);
}

/**
 * Damages the daemon's bare mirror and commits; alone, the next poll clones the mirror again and takes the commit
 * (`lastRecovery`); with the remote gone too, `source.error` says so until the remote is back.
 */
async function corruptMirror(r: Recorder, d: RunningDaemon, damage: Damage, pollMs: number, remoteGoneToo: boolean): Promise<void> {
  const what = `corrupt mirror (${damage}${remoteGoneToo ? ', remote gone too' : ''})`;
  const good = (await d.status()).revision!.sha;
  const recoveriesBefore = (await d.get<SourceView>('/api/v1/source')).lastRecovery?.at ?? null;
  const mirror = join(d.stateDir, 'source', 'mirror.git');
  if (remoteGoneToo) renameSync(d.repo.origin, `${d.repo.origin}.gone`);
  const errors0 = await fetchErrors(d);
  if (damage === 'a garbage HEAD') writeFileSync(join(mirror, 'HEAD'), 'not a ref at all\n');
  if (damage === 'a lost object store') rmSync(join(mirror, 'objects'), { recursive: true, force: true });
  if (damage === 'a garbage config') writeFileSync(join(mirror, 'config'), '[[[ not config\n');
  r.step(`Damaged the daemon's mirror (${damage})${remoteGoneToo ? ' with the remote renamed away, until two polls had failed, then put the remote back' : ''}, and committed.`);
  if (remoteGoneToo) {
    const during = await waitFor('two failed polls', async () => ((await fetchErrors(d)) >= errors0 + 2 ? d.status() : undefined), 60_000, 100);
    r.check(`${what}: source.error reports it`, during.source.error !== null, during.source.error?.slice(0, 160) ?? 'null');
    r.check(`${what}: the last good revision stays in use`, during.revision?.sha === good, `${during.revision?.sha.slice(0, 12)} (good: ${good.slice(0, 12)})`);
    renameSync(`${d.repo.origin}.gone`, d.repo.origin);
  }
  const next = await d.repo.commit({ 'motd.txt': `after ${damage} ${remoteGoneToo}` }, `after ${damage}`);
  const started = performance.now();
  const errorsAtStart = await fetchErrors(d);
  const status = await waitFor('the commit after the damage', async () => {
    const s = await d.status();
    return s.revision?.sha === next && s.source.error === null ? s : undefined;
  }, 60_000, 50).catch(async () => d.status());
  const tookMs = performance.now() - started;
  const source = await d.get<SourceView>('/api/v1/source');
  const reported = source.lastRecovery !== null && source.lastRecovery.at !== recoveriesBefore;
  r.check(`${what}: the mirror is cloned again and says so (lastRecovery)`, reported, source.lastRecovery ? `${source.lastRecovery.at}: ${source.lastRecovery.reason.slice(0, 120)}` : 'null');
  const failedPolls = (await fetchErrors(d)) - errorsAtStart;
  r.check(
    `${what}: recovers within one poll, with the new commit (no failed poll${remoteGoneToo ? ' but one already under way' : ''})`,
    status.revision?.sha === next && status.source.error === null && failedPolls <= (remoteGoneToo ? 1 : 0),
    `${status.revision?.sha.slice(0, 12)} after ${ms(tookMs)}, ${failedPolls} failed polls; source.error ${status.source.error ?? 'null'}`,
  );
  r.figure(`${what} → new commit in use`, `${ms(tookMs)} (poll ${ms(pollMs)})`);
}

async function fetchErrors(d: RunningDaemon): Promise<number> {
  const text = await (await fetch(`${d.base}/metrics`)).text();
  return Number(/^fleetcd_source_fetch_errors_total (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}
