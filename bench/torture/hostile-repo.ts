/**
 * Hostile repository content, one commit at a time against one daemon: symlinks out of the checkout (an
 * inventory, an inventory folder, a playbook, requirements.yml), `..` in configured paths, an inventory that
 * is a FIFO (and one that reaches a FIFO from inside its folder), a 100 MB file, then a 100 MB ansible.cfg (the
 * one file the daemon itself reads), a playbook that prints 50 MB, and an ansible.cfg that is a FIFO. Each must be refused, or handled
 * within bounded memory while the daemon keeps answering. Every target is suspended, so a commit starts no run:
 * each stage asks for exactly the checks it needs (an explicit check runs on a suspended target).
 */
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SourceView } from '../../src/api/schemas.js';
import { startDaemonFleet } from '../../test/helpers/running-daemon.js';
import { removeDir, tempDir } from '../../test/helpers/tmp.js';
import { idle, localHosts, memoryOf, mib, ms, reconfigureRepository, reloadEdited, resetPeak, scenario, watchServing, type Mode, type ServingWatch, type ScenarioResult } from './common.js';
import { fifoAnsibleCfg, fifoInventories } from './hostile-repo-fifo.js';
import { daemonLoopMaxMs, ownLoopDelay } from './loop-delay.js';
import { checks, commitStage, type Stage } from './repo-stage.js';

/** Generous: the daemon idles near 100 MiB; a hostile file must not cost it more than this at its peak. */
export const peakGrowthBoundKiB = 512 * 1024;

const sizes = { short: { bigMiB: 100, loudMiB: 50, fifoTimeoutS: 8 }, full: { bigMiB: 100, loudMiB: 50, fifoTimeoutS: 10 } } as const;

const site = `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.copy: { dest: "{{ host_root }}/motd", content: "hello\\n" }
`;
const loud = (mib: number): string => `- hosts: all
  gather_facts: false
  tasks:
    - name: print ${mib} MB
      ansible.builtin.debug:
        msg: "{{ 'x' * ${mib * 1024 * 1024} }}"
`;

export function hostileRepo(mode: Mode): Promise<ScenarioResult> {
  const size = sizes[mode];
  return scenario('hostile-repo', 'Hostile repository content', mode, async (r) => {
    const sandbox = tempDir('fleetcd-torture-repo-');
    const outside = tempDir('fleetcd-torture-outside-');
    const targets = ['good', 'escape', 'escapedir', 'viaplaybook', 'fifo', 'fifodir', 'loud'];
    const d = await startDaemonFleet(
      { 'playbooks/site.yml': site, 'inventories/good.yml': localHosts(sandbox, ['g1']) },
      [
        'reconcile: { interval: 1h, concurrency: 2, timeout: 120s }',
        'targets:',
        '  good: {}',
        '  escape: {}',
        '  escapedir: {}',
        '  viaplaybook: { playbook: playbooks/evil.yml }',
        '  fifo: {}',
        `  fifodir: { timeout: ${size.fifoTimeoutS}s }`,
        '  loud: { playbook: playbooks/loud.yml }',
      ].join('\n'),
    );
    let watching: ServingWatch | undefined;
    try {
      const watch = await watchServing(d);
      watching = watch;
      await reconfigureRepository(d, { pollInterval: '1s' });
      await idle(d);
      for (const target of targets) await d.post(`/api/v1/targets/${target}/suspend`, { reason: 'torture: runs only on request' });
      const stage: Stage = { d, r, outside, sandbox, pid: d.process.child.pid! };
      r.step(
        'Started a daemon polling every second with target `good` (a local host) and the targets the stages add; suspended them all, so ' +
          'a commit starts no run and each stage asks for its own checks. One commit per stage; the daemon was asked for `/healthz` every ' +
          '100 ms (2 s timeout) throughout.',
      );
      const stages: Array<[string, () => Promise<void>]> = [
        ['symlinks out of the checkout', () => symlinksOut(stage)],
        ['`..` in configured paths', () => dotDotPaths(stage)],
        ['FIFO inventories', () => fifoInventories(stage, size.fifoTimeoutS)],
        [`${size.bigMiB} MB file`, () => bigFile(stage, size.bigMiB)],
        [`${size.loudMiB} MB of output`, () => loudPlaybook(stage, size.loudMiB)],
        ['ansible.cfg → FIFO', () => fifoAnsibleCfg(stage, watch)],
      ];
      const took: string[] = [];
      const blocked: Array<[string, number, number]> = [];
      const harness = ownLoopDelay();
      await daemonLoopMaxMs(d); // opens the daemon's first window
      for (const [name, run] of stages) {
        const started = performance.now();
        harness.takeMaxMs();
        await run();
        took.push(`${name} ${ms(performance.now() - started)}`);
        blocked.push([name, await daemonLoopMaxMs(d), harness.takeMaxMs()]);
      }
      harness.stop();
      r.figure('time per stage', took.join(', '));
      r.figure('longest event-loop block per stage, daemon / this harness', blocked.map(([name, daemon, own]) => `${name} ${ms(daemon)} / ${ms(own)}`).join(', '));
      const worst = blocked.reduce((a, b) => (b[1] > a[1] ? b : a));
      r.check(
        "the daemon's event loop was never blocked for 1 s or more (its own measure, nodejs_eventloop_lag_max_seconds)",
        worst[1] < 1000,
        `longest ${ms(worst[1])}, during ${worst[0]}`,
      );
      const [after] = await checks(d, ['good']);
      r.check('afterwards a check of `good` still succeeds', after?.status === 'succeeded', `#${after?.id} ${after?.status}`);
      const seen = await watch.stop();
      r.check('the daemon answered /healthz throughout (no answer missing for 3 s or more)', seen.longestSilenceMs < 3000, `${seen.latencies.length} answers, ${seen.failures.length} failures; longest silence ${ms(seen.longestSilenceMs)}, slowest answer ${ms(Math.max(0, ...seen.latencies))}, the watcher's own longest stall ${ms(seen.watcherStallMs ?? 0)}`);
      r.check('the daemon never restarted', d.process.child.pid === stage.pid && d.process.child.exitCode === null, `pid ${stage.pid}`);
    } finally {
      await watching?.stop();
      await d.cleanup();
      removeDir(sandbox);
      removeDir(outside);
    }
  });
}

async function symlinksOut({ d, r, outside, sandbox }: Stage): Promise<void> {
  mkdirSync(join(outside, 'invdir'));
  const inventory = localHosts(join(outside, 'hosts'), ['x1']);
  writeFile(join(outside, 'inventory.yml'), inventory);
  writeFile(join(outside, 'invdir', 'hosts.yml'), inventory);
  writeFile(join(outside, 'evil.yml'), `- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.copy: { dest: ${JSON.stringify(join(outside, 'pwned'))}, content: "x" }\n`);
  writeFile(join(outside, 'requirements.yml'), '- src: ./nowhere.tar.gz\n');
  await commitStage(d, 'symlinks out of the checkout', { 'inventories/viaplaybook.yml': localHosts(sandbox, ['v1']) }, {
    'inventories/escape.yml': join(outside, 'inventory.yml'),
    'inventories/escapedir': join(outside, 'invdir'),
    'playbooks/evil.yml': join(outside, 'evil.yml'),
  });
  const runs = await checks(d, ['escape', 'escapedir', 'viaplaybook']);
  r.step(
    'Committed `inventories/escape.yml` and `inventories/escapedir/` as symlinks to an inventory outside the checkout, and ' +
      '`playbooks/evil.yml` (the playbook of target `viaplaybook`) as a symlink to a playbook outside that writes a marker file; checked ' +
      'the three targets. Then committed `requirements.yml` as a symlink out of the checkout, and then removed it.',
  );
  const refused = runs.every((run) => run.status === 'failed' && /outside the repository checkout/.test(run.error ?? ''));
  r.check('symlinks out: each target refuses to run, naming the escape', refused, runs.map((run) => `#${run.id} ${run.target} ${run.status}: ${run.error?.slice(0, 90)}`).join('; '));
  const touched = [join(outside, 'pwned'), join(outside, 'hosts', 'x1', 'motd')].filter((file) => existsSync(file));
  r.check('symlinks out: nothing outside the checkout was run or written', touched.length === 0, touched.length === 0 ? 'no marker file' : touched.join(', '));
  const good = (await d.status()).revision?.sha;
  const tip = await commitStage(d, 'requirements.yml out of the checkout', {}, { 'requirements.yml': join(outside, 'requirements.yml') });
  const source = await d.get<SourceView>('/api/v1/source');
  r.check(
    'requirements.yml out: the tip is refused, source.error says why, the last good revision stays',
    !tip.accepted && /requirements\.yml/.test(source.lastError ?? '') && source.sha === good,
    `${tip.sha.slice(0, 12)} ${tip.accepted ? 'accepted' : 'refused'}; in use ${source.sha?.slice(0, 12)}; ${source.lastError?.slice(0, 120)}`,
  );
  const fixed = await commitStage(d, 'requirements.yml removed', { 'requirements.yml': null });
  r.check('requirements.yml out: the next tip without it is taken', fixed.accepted, `${fixed.sha.slice(0, 12)} ${fixed.accepted ? 'accepted' : 'refused'}`);
}

async function dotDotPaths({ d, r }: Stage): Promise<void> {
  // Each value carries a word of its own, so the refusal found in the log is this attempt's and no earlier one's.
  const targets = (c: Record<string, unknown>): Record<string, object> => c.targets as Record<string, object>;
  const attempts: Array<[string, (config: Record<string, unknown>, word: string) => void]> = [
    ['targets.good.playbook: ../…/etc/passwd', (c, word) => (targets(c).good = { playbook: `../${word}/../../etc/passwd` })],
    ['targets.good.playbook: playbooks/../../…', (c, word) => (targets(c).good = { playbook: `playbooks/../../${word}.yml` })],
    ['repository.path: ../…', (c, word) => ((c.repository as Record<string, unknown>).path = `../${word}`)],
    ['targets.good.playbook: /…/site.yml', (c, word) => (targets(c).good = { playbook: `/${word}/site.yml` })],
  ];
  r.step(`Reloaded the config (SIGHUP) with ${attempts.map(([what]) => `\`${what}\``).join(', ')}, one at a time.`);
  for (const [i, [what, edit]] of attempts.entries()) {
    const word = `dotdot${i}x${Date.now().toString(36)}`;
    const outcome = await reloadEdited(d, (config) => edit(config, word), word);
    const said = outcome.logLine ? (JSON.parse(outcome.logLine) as { err: string }).err : undefined;
    r.check(
      `\`${what}\`: the reload is refused, naming the key; the config in force stays`,
      !outcome.loaded && said !== undefined && said.includes(what.split(':')[0]!),
      outcome.loaded ? 'the daemon LOADED it' : (said?.replace(/^.*?fleetcd\.yaml: /, '').slice(0, 140) ?? 'no log line'),
    );
  }
}

async function bigFile({ d, r, pid }: Stage, mib100: number): Promise<void> {
  const line = `# ${'x'.repeat(97)}\n`;
  const block = Buffer.from(`[defaults]\n${line.repeat(1024 * 10 - 1)}`.padEnd(1024 * 1024, '#'));
  const write = (path: string) => {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    for (let i = 0; i < mib100; i++) writeSync(fd, block);
    closeSync(fd);
  };
  const before = memoryOf(pid);
  resetPeak(pid);
  // A big file the daemon only fetches and checks out (Ansible never reads it here).
  write(join(d.repo.work, 'files', 'big.bin'));
  const blobTip = await commitStage(d, `a ${mib100} MB file`, {});
  const [blobRun] = await checks(d, ['good']);
  // The same size as ansible.cfg, the one file of the checkout the daemon reads itself.
  write(join(d.repo.work, 'ansible.cfg'));
  const cfgTip = await commitStage(d, `a ${mib100} MB ansible.cfg`, {});
  const [cfgRun] = await checks(d, ['good']);
  const after = memoryOf(pid);
  r.step(
    `Committed a ${mib100} MiB \`files/big.bin\` and checked \`good\`; then a ${mib100} MiB \`ansible.cfg\` (the one file of the checkout the daemon reads itself), checked \`good\`, and removed both.`,
  );
  r.check(
    `${mib100} MB file: fetched, checked out and run`,
    blobTip.accepted && blobRun?.status === 'succeeded',
    `${blobTip.sha.slice(0, 12)} ${blobTip.accepted ? 'accepted' : 'refused'}; #${blobRun?.id} ${blobRun?.status}`,
  );
  r.check(
    `${mib100} MB ansible.cfg: the run is refused, naming the file and its size (nothing that big is read)`,
    cfgTip.accepted && cfgRun?.status === 'failed' && /ansible\.cfg: is \d+ bytes/.test(cfgRun.error ?? ''),
    `#${cfgRun?.id} ${cfgRun?.status}: ${cfgRun?.error?.slice(0, 120) ?? ''}`,
  );
  r.check(`${mib100} MB files: the daemon's peak RSS grows by at most ${mib(peakGrowthBoundKiB)}`, after.peakKiB - before.rssKiB <= peakGrowthBoundKiB, `RSS ${mib(before.rssKiB)} → peak ${mib(after.peakKiB)} (+${mib(after.peakKiB - before.rssKiB)}), after ${mib(after.rssKiB)}`);
  r.figure(`${mib100} MB file and ansible.cfg: daemon peak RSS growth`, mib(after.peakKiB - before.rssKiB));
  await commitStage(d, 'big files removed', { 'ansible.cfg': null, 'files/big.bin': null });
}

async function loudPlaybook({ d, r, pid, sandbox }: Stage, mb: number): Promise<void> {
  await commitStage(d, 'a loud playbook', { 'playbooks/loud.yml': loud(mb), 'inventories/loud.yml': localHosts(sandbox, ['l1']) });
  const before = memoryOf(pid);
  resetPeak(pid);
  const [run] = await checks(d, ['loud']);
  const during = memoryOf(pid);
  const response = await fetch(`${d.base}/api/v1/runs/${run!.id}/log`);
  let bytes = 0;
  let cutLine = '';
  let carry = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    // Only a window is kept: the cut line may straddle two chunks, the log itself must not be held here.
    const text = carry + Buffer.from(chunk).toString('latin1'); // bytes as characters: no chunk splits one
    cutLine ||= /[\d.]+ [KMG]?i?B cut \(of [\d.]+ [KMG]?i?B\)/.exec(text)?.[0] ?? '';
    carry = text.slice(-128);
  }
  const afterLog = memoryOf(pid);
  const events = await d.get<{ events: Array<{ task: string }> }>(`/api/v1/runs/${run!.id}/events`);
  r.step(`Committed target \`loud\`, whose playbook prints ${mb} MB in one debug message; checked it and read its log back through the API.`);
  r.check(`${mb} MB of output: the run ends succeeded`, run?.status === 'succeeded', `#${run?.id} ${run?.status} ${run?.error ?? ''}`);
  const capBytes = 50 * 1024 * 1024; // retention.maxLogSize's default: the daemon here runs with it
  const size = Number(response.headers.get('x-log-size'));
  r.check(
    `${mb} MB of output: the log is capped at retention.maxLogSize (50MB), its head and tail kept with the cut stated, and served whole (x-log-size)`,
    size === bytes && bytes <= capBytes + 1024 && bytes >= capBytes / 2 && cutLine !== '',
    `x-log-size ${size}, ${bytes} bytes read, cut line: ${cutLine || 'none'}`,
  );
  r.check(`${mb} MB of output: the daemon's peak RSS grows by at most ${mib(peakGrowthBoundKiB)}`, afterLog.peakKiB - before.rssKiB <= peakGrowthBoundKiB, `RSS ${mib(before.rssKiB)} → peak ${mib(during.peakKiB)} during the run, ${mib(afterLog.peakKiB)} after serving the log`);
  r.figure(`${mb} MB output: run time / daemon peak RSS growth`, `${ms(Date.parse(run!.finishedAt!) - Date.parse(run!.startedAt!))} / ${mib(afterLog.peakKiB - before.rssKiB)}`);
  r.figure(`${mb} MB output: task results kept for the run`, `${events.events.length} (${events.events.map((e) => e.task).join(', ') || 'the 50 MB result is over the 4 MiB event line cap and dropped whole'})`);
  await commitStage(d, 'loud removed', { 'playbooks/loud.yml': null, 'inventories/loud.yml': null });
}

function writeFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
