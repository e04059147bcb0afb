/**
 * The FIFO stages of the hostile repository: a FIFO outside the checkout reached as an inventory, from inside an
 * inventory folder, and as ansible.cfg. Git cannot store a FIFO, so a symlink is the way a commit can name one.
 * Whatever waits on it (Ansible, or the daemon itself) is released by opening the FIFO for writing and closing
 * it again (the reader sees an empty file), so every stage ends by itself.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { processesMentioning } from '../../test/helpers/processes.js';
import { waitFor } from '../../test/helpers/wait.js';
import { ms, type Watched } from './common.js';
import { checks, commitStage, type Stage } from './repo-stage.js';

/** How long another target's check may take while one target's inventory hangs, to count as unaffected. */
const unaffectedMs = 25_000;

/**
 * `inventories/fifo.yml` is a symlink to a FIFO outside (refused, never opened); `inventories/fifodir/hosts`
 * reaches the same FIFO from inside a folder that is itself inside the checkout, so Ansible opens it and hangs:
 * the run must end at its timeout, and a check of another target meanwhile must not wait for it.
 */
export async function fifoInventories({ d, r, outside }: Stage, timeoutS: number): Promise<void> {
  const pipe = fifo(outside);
  await commitStage(d, 'FIFO inventories', {}, { 'inventories/fifo.yml': pipe, 'inventories/fifodir/hosts': pipe });
  r.step(
    'Made a FIFO outside the checkout and committed `inventories/fifo.yml` as a symlink to it, and `inventories/fifodir/hosts` as ' +
      `another (inside a real folder, so only Ansible follows it). Checked \`fifo\`; checked \`fifodir\` (timeout ${timeoutS} s) and, while ` +
      'it hung, `good`. When something still waited on the FIFO after that, opened it for writing and closed it, every 100 ms, until the stage ended.',
  );
  const [refused] = await checks(d, ['fifo'], 30_000);
  r.check('FIFO inventory: refused at once (never opened), naming the escape', refused?.status === 'failed' && /outside the repository checkout/.test(refused.error ?? ''), `#${refused?.id} ${refused?.status}: ${refused?.error?.slice(0, 100)}`);
  const hung = (await d.reconcile({ targets: ['fifodir'], mode: 'check' })).runs[0]!.id;
  await waitFor('the fifodir run to hang in Ansible', () => processesMentioning(d.stateDir).some((p) => p.args.includes('ansible-playbook') && p.args.includes('fifodir')), 30_000, 100);
  const asked = performance.now();
  const other = (await d.reconcile({ targets: ['good'], mode: 'check' })).runs[0]!.id;
  const hungRun = await d.finished(hung, (timeoutS + 60) * 1000);
  const goodRun = await d.finished(other, Math.max(1000, unaffectedMs - (performance.now() - asked))).catch(() => undefined);
  const feeder = feed(pipe);
  const goodAfter = goodRun ?? (await d.finished(other, 150_000));
  const goodMs = Date.parse(goodAfter.finishedAt!) - Date.parse(goodAfter.queuedAt ?? goodAfter.startedAt!);
  const hungMs = Date.parse(hungRun.finishedAt!) - Date.parse(hungRun.startedAt!);
  r.check(`FIFO inside an inventory folder: the run ends timed-out on schedule (${timeoutS} s + 5 s grace, +10 s slack)`, hungRun.status === 'timed-out' && hungMs <= (timeoutS + 15) * 1000, `#${hungRun.id} ${hungRun.status} after ${ms(hungMs)}`);
  const unaffected = goodRun !== undefined && goodRun.status === 'succeeded';
  r.check(`FIFO inside an inventory folder: a check of another target meanwhile is unaffected (done within ${unaffectedMs / 1000} s)`, unaffected, `#${goodAfter.id} good ${goodAfter.status} ${ms(goodMs)} after it was asked${unaffected ? '' : `; it ended only after the FIFO was fed (${feeder.fed()} times)`}`);
  if (!unaffected) {
    r.defect(
      `A target whose inventory hangs (here \`inventories/fifodir/hosts\` → a FIFO) holds up every other target's run: while \`fifodir\` runs, the next ` +
        `reconcile of \`good\` waits in \`HostLocks.acquire\` for \`ansible-inventory -i inventories/fifodir --graph\` (src/reconcile/reconciler.ts hostsOf, ` +
        `src/runner/inventory.ts: execa timeout 120 s), and neither \`fifodir\`'s run timeout (${timeoutS} s) nor the end of its run cuts that wait short. ` +
        `Observed: \`POST /api/v1/reconcile {"targets":["good"],"mode":"check"}\` → run #${goodAfter.id} did not end within ${unaffectedMs / 1000} s ` +
        `(a check of it takes a second or two); it went on only once the FIFO was fed.`,
    );
  }
  await commitStage(d, 'FIFO inventories removed', { 'inventories/fifo.yml': null, 'inventories/fifodir/hosts': null });
  const left = await waitFor('nothing reading the FIFO', () => (readers(d.stateDir).length === 0 ? [] : undefined), 20_000, 200).catch(() => readers(d.stateDir));
  feeder.stop();
  r.check('FIFO inventories: no Ansible process of theirs is left', left.length === 0, left.length === 0 ? 'none' : left.join('; '));
  r.figure('FIFO inside an inventory folder: hung run / other target\'s check', `${ms(hungMs)} (${hungRun.status}) / ${ms(goodMs)}`);
}

/**
 * `ansible.cfg` as a symlink to a FIFO outside: the daemon reads ansible.cfg itself before each run. It must
 * keep answering (a refusal, or a read that cannot hang, would); when it stops, the FIFO is fed to free it.
 */
export async function fifoAnsibleCfg({ d, r, outside }: Stage, watch: { silentForMs(): number; stop(): Promise<Watched> }): Promise<void> {
  const pipe = fifo(outside);
  const tip = await commitStage(d, 'ansible.cfg is a FIFO', {}, { 'ansible.cfg': pipe });
  r.step('Committed `ansible.cfg` as a symlink to a FIFO outside the checkout and checked `good`; fed the FIFO if the daemon stopped answering.');
  const asked = d.reconcile({ targets: ['good'], mode: 'check' });
  const stalled = await waitFor('the daemon to stop answering', () => watch.silentForMs() >= 3000, 10_000, 100).catch(() => false);
  const feeder = stalled ? feed(pipe) : undefined;
  const started = performance.now();
  if (stalled) await waitFor('the daemon to answer again', () => watch.silentForMs() < 500, 30_000, 100).catch(() => undefined);
  const silentMs = stalled ? 3000 + (performance.now() - started) : 0;
  const [runId] = (await asked).runs.map((run) => run.id);
  const feederForAnsible = feeder ?? feed(pipe);
  const run = await d.finished(runId!, 120_000);
  r.check('ansible.cfg → FIFO: the daemon keeps answering', !stalled, stalled ? `no answer to /healthz for ≥ ${ms(silentMs)}, until the FIFO was fed` : 'answered throughout');
  r.check('ansible.cfg → FIFO: the run ends', run.status !== 'running' && run.status !== 'queued', `#${run.id} ${run.status}: ${run.error?.slice(0, 100) ?? ''} (tip ${tip.sha.slice(0, 12)} ${tip.accepted ? 'accepted' : 'refused'})`);
  if (stalled) {
    r.defect(
      'The daemon follows `ansible.cfg` out of the checkout and reads it whole and synchronously before each run ' +
        '(src/runner/ansible-cfg.ts `readRepoAnsibleCfg`: `existsSync` + `readFileSync`; called from `Runner.run`, `runGate`, `listHosts`). ' +
        `A commit whose \`ansible.cfg\` is a symlink to a FIFO froze the whole daemon: after \`POST /api/v1/reconcile {"targets":["good"],"mode":"check"}\`, ` +
        `\`GET /healthz\` went unanswered for ${ms(silentMs)} until the test opened the FIFO for writing. The same read through a symlink to ` +
        '/dev/zero would grow until the process runs out of memory, and a 100 MB ansible.cfg costs the daemon ~2× its size in RSS per run ' +
        '(see its figure). README\'s rule "Paths the daemon resolves … must stay inside the checkout" does not cover ansible.cfg.',
    );
  }
  await commitStage(d, 'ansible.cfg removed', { 'ansible.cfg': null });
  await waitFor('nothing reading the FIFO', () => readers(d.stateDir).length === 0, 20_000, 200).catch(() => undefined);
  feederForAnsible.stop();
  r.figure('ansible.cfg → FIFO: longest time /healthz went unanswered', stalled ? `${ms(silentMs)} (until fed)` : '0');
}

/** The FIFO at `<dir>/pipe`, made once. */
function fifo(dir: string): string {
  const path = join(dir, 'pipe');
  if (!existsSync(path)) execFileSync('mkfifo', [path]);
  return path;
}

/** Opens the FIFO for writing and closes it every 100 ms, so each reader waiting on it reads an empty file. */
function feed(path: string): { fed(): number; stop(): void } {
  let fed = 0;
  const timer = setInterval(() => {
    try {
      closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
      fed += 1;
    } catch {
      // ENXIO: nobody is reading it now.
    }
  }, 100);
  // Never what keeps the process alive, should a stage stop before it stops feeding.
  timer.unref();
  return { fed: () => fed, stop: () => clearInterval(timer) };
}

/** Ansible processes of the daemon (ansible-playbook, ansible-inventory) still running. */
function readers(stateDir: string): string[] {
  return processesMentioning(stateDir)
    .filter((p) => /ansible-(playbook|inventory)/.test(p.args))
    .map((p) => `${p.pid} ${p.args.slice(0, 100)}`);
}
