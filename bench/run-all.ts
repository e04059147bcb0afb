/**
 * The benchmark suite of issue 12, in sequence, each as its own process: builds first (the daemon benches
 * spawn bin/fleetcd), runs every benchmark with its exact command, and writes bench/RESULTS.md: per benchmark
 * the goal, the figure, pass or miss, medians and every sample, the command, and the machine and date.
 * Run it on a quiet machine: other load on the cores shows up in every figure.
 *
 *   npm run bench                                   # the full suite (about 50 minutes on 2 cores)
 *   node --import tsx bench/run-all.ts --quick      # small sizes, one or two rounds: checks the suite works
 *   node --import tsx bench/run-all.ts --only 1,3   # some of them (keys: 0 1 2 2f 3 4 4i 5 6 retention crash orphan)
 *   … [--out FILE] [--no-build]
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { type BenchResult, type Figure, median, passes, projectDir, round } from './lib.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const argValue = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const only = argValue('--only')?.split(',');
const out = argValue('--out') ?? join(projectDir, 'bench', 'RESULTS.md');

type Invocation = { file: string; args: string[] };
type Entry = {
  key: string;
  /** Each invocation's arguments, full and quick. */
  runs: { full: Invocation[]; quick: Invocation[] };
  timeoutMin: number;
  /** Turns the invocations' stdout into a result (benchmarks of this suite print one already). */
  adapt?: (outputs: string[], commands: string[]) => BenchResult;
};

const one = (file: string, full: string[] = [], quickArgs: string[] = ['--quick']): Entry['runs'] => ({
  full: [{ file, args: full }],
  quick: [{ file, args: quickArgs }],
});

const entries: Entry[] = [
  { key: '0', runs: one('fast-defaults.ts'), timeoutMin: 20 },
  { key: '1', runs: one('overhead.ts'), timeoutMin: 20 },
  { key: '2', runs: one('ansible-pull.ts'), timeoutMin: 45 },
  { key: '2f', runs: one('source-fetch.ts', ['--json'], ['--json', '--runs', '5']), timeoutMin: 5, adapt: adaptSourceFetch },
  { key: '3', runs: one('concurrency.ts'), timeoutMin: 20 },
  { key: '4', runs: one('scale.ts'), timeoutMin: 60 },
  {
    key: '4i',
    runs: {
      full: [25_000, 100_000].map((n) => ({ file: 'runner-events.ts', args: ['--only', 'ingest', '--events', String(n)] })),
      quick: [5_000, 20_000].map((n) => ({ file: 'runner-events.ts', args: ['--only', 'ingest', '--events', String(n)] })),
    },
    timeoutMin: 10,
    adapt: adaptIngest,
  },
  { key: '5', runs: one('api-load.ts'), timeoutMin: 60 },
  { key: '6', runs: one('capacity.ts'), timeoutMin: 40 },
  { key: 'retention', runs: one('retention.ts', [], ['--runs', '2000']), timeoutMin: 15, adapt: adaptRetention },
  { key: 'crash', runs: one('crash-recovery.ts', [], ['--rounds', '1']), timeoutMin: 10, adapt: adaptCrash },
  { key: 'orphan', runs: one('orphan-kill.ts'), timeoutMin: 10 },
];

type Outcome = { entry: Entry; commands: string[]; seconds: number; result?: BenchResult; error?: string };

function commandOf(inv: Invocation): string {
  return ['node --import tsx', `bench/${inv.file}`, ...inv.args].join(' ');
}

let current: ChildProcess | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    // The benchmark cleans up on SIGTERM (bench/lib.ts); give it the time to.
    current?.kill('SIGTERM');
    setTimeout(() => process.exit(130), 20_000).unref();
  });
}

/** One benchmark process: stdout kept, stderr shown as it goes; stopped (SIGTERM, then SIGKILL) after its time. */
function runOne(inv: Invocation, timeoutMin: number): Promise<{ code: number | null; stdout: string; stderrTail: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('bench', inv.file), ...inv.args], {
      cwd: projectDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = child;
    let stdout = '';
    let stderrTail = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    const term = setTimeout(() => {
      stderrTail += `\n(run-all: stopped after ${timeoutMin} min)`;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
    }, timeoutMin * 60_000);
    child.on('close', (code) => {
      clearTimeout(term);
      current = undefined;
      resolve({ code, stdout, stderrTail });
    });
  });
}

async function runEntry(entry: Entry): Promise<Outcome> {
  const invocations = quick ? entry.runs.quick : entry.runs.full;
  const commands = invocations.map(commandOf);
  const started = Date.now();
  const outputs: string[] = [];
  for (const inv of invocations) {
    process.stderr.write(`\n=== ${commandOf(inv)}\n`);
    const run = await runOne(inv, entry.timeoutMin);
    if (run.code !== 0) {
      return { entry, commands, seconds: (Date.now() - started) / 1000, error: `exit ${run.code}\n${run.stderrTail.trim()}` };
    }
    outputs.push(run.stdout);
  }
  const seconds = (Date.now() - started) / 1000;
  try {
    const result = entry.adapt ? entry.adapt(outputs, commands) : (JSON.parse(outputs[0]!) as BenchResult);
    return { entry, commands, seconds, result };
  } catch (error) {
    return { entry, commands, seconds, error: `could not read its output: ${String(error)}\n${outputs.join('\n').slice(-2000)}` };
  }
}

// ------------------------------------------------------------------------------------ adapters of the older benches

function adaptSourceFetch(outputs: string[], commands: string[]): BenchResult {
  const { runs, results } = JSON.parse(outputs[0]!) as { runs: number; results: Array<{ label: string; firstMs: number; medianMs: number; samples: number[] }> };
  return {
    id: '2 (fetch)',
    title: "fleetcd's poll when nothing changed (GitSource.fetch against an unchanged remote)",
    quick,
    command: commands.join(' && '),
    figures: results.map((r) => ({ name: `${r.label.replace(/ \(.*\)$/, '')}: unchanged fetch, median`, value: r.medianMs, unit: 'ms', how: `first fetch ${r.firstMs} ms, n=${runs}` })),
    series: results.map((r) => ({ name: r.label.replace(/ \(.*\)$/, ''), unit: 'ms', samples: r.samples })),
    notes: ['ssh:// opens one connection per fetch (no ControlPersist for git).'],
  };
}

type Ingest = { ingest: { events: number; seconds: number; eventsPerSecond: number; rssBaselineMiB: number; rssPeakMiB: number; rssGrowthMiB: number; status: string } };

function adaptIngest(outputs: string[], commands: string[]): BenchResult {
  const [small, big] = outputs.map((o) => (JSON.parse(o) as Ingest).ingest) as [Ingest['ingest'], Ingest['ingest']];
  const extra = round(big.rssGrowthMiB - small.rssGrowthMiB, 1);
  return {
    id: '4 (ingestion)',
    title: `Ingestion of synthetic events through the runner and the store (bench/runner-events.ts), ${small.events} and ${big.events} events`,
    quick,
    command: commands.join(' && '),
    figures: [
      { name: `rows written per second (${big.events} events)`, value: big.eventsPerSecond, unit: 'rows/s', goal: { op: '>=', value: 20_000 }, how: `${big.events} rows in ${big.seconds} s, run ${big.status}` },
      { name: `rows written per second (${small.events} events)`, value: small.eventsPerSecond, unit: 'rows/s' },
      { name: `RSS growth during ${small.events} events`, value: small.rssGrowthMiB, unit: 'MiB', how: `baseline ${small.rssBaselineMiB}, peak ${small.rssPeakMiB}` },
      { name: `RSS growth during ${big.events} events`, value: big.rssGrowthMiB, unit: 'MiB', how: `baseline ${big.rssBaselineMiB}, peak ${big.rssPeakMiB}` },
      {
        name: `RSS flat in the event count (${(big.events / small.events).toFixed(0)}× the events: ≤ 10 MiB more growth)`,
        value: extra,
        unit: 'MiB',
        goal: { op: '<=', value: 10 },
        how: 'growth at the larger count minus growth at the smaller',
      },
    ],
    series: [],
    notes: ['RSS is the benchmark process, which holds the fleet (runner, event pipe, SQLite store) in-process.'],
  };
}

function adaptRetention(outputs: string[], commands: string[]): BenchResult {
  const r = JSON.parse(outputs[0]!) as {
    runs: number; pruned: number; seconds: number; runsPrunedPerSecond: number; dbMiBBefore: number; dbMiBAfter: number; integrity: string;
    apiDuringPruning?: { p50ms: number; p99ms: number; maxms: number; errors: number; requests: number };
  };
  const api = r.apiDuringPruning;
  return {
    id: 'retention',
    title: `Retention at size: ${r.runs} runs pruned to 100 per target while the API is read (bench/retention.ts)`,
    quick,
    command: commands.join(' && '),
    figures: [
      { name: 'runs pruned per second', value: r.runsPrunedPerSecond, unit: 'runs/s', how: `${r.pruned} runs in ${r.seconds} s` },
      { name: 'database size before → after', value: `${r.dbMiBBefore} → ${r.dbMiBAfter}`, unit: 'MiB', how: `integrity ${r.integrity}` },
      ...(api ? [{ name: 'GET /api/v1/runs during pruning, p99', value: api.p99ms, unit: 'ms', how: `p50 ${api.p50ms} ms, max ${api.maxms} ms, ${api.requests} requests, ${api.errors} errors` } satisfies Figure] : []),
    ],
    series: [],
    notes: [],
  };
}

function adaptCrash(outputs: string[], commands: string[]): BenchResult {
  const r = JSON.parse(outputs[0]!) as { rounds: number; restartToInterruptedMs: { median: number; all: number[] } };
  return {
    id: 'crash',
    title: 'Crash recovery: kill -9 during a run, restart → the run recorded interrupted (bench/crash-recovery.ts)',
    quick,
    command: commands.join(' && '),
    figures: [{ name: 'restart → run interrupted, median', value: r.restartToInterruptedMs.median, unit: 'ms' }],
    series: [{ name: 'restart → interrupted', unit: 'ms', samples: r.restartToInterruptedMs.all }],
    notes: [],
  };
}

// ------------------------------------------------------------------------------------ the report

function firstLine(file: string, argv: string[]): string {
  try {
    const run = spawnSync(file, argv, { encoding: 'utf8' });
    return `${run.stdout}${run.stderr}`.split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

function machine(): string[] {
  const cpu = cpus();
  return [
    `CPU: ${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Linux ${release()}`,
    `Node ${process.version}; ${firstLine('ansible-playbook', ['--version'])}; ${firstLine('ssh', ['-V'])}; ${firstLine('git', ['--version'])}`,
  ];
}

const cell = (value: unknown): string => String(value).replaceAll('|', '\\|').replaceAll('\n', ' ');

function verdict(figure: Figure): string {
  const pass = passes(figure);
  return pass === null ? '' : pass ? '**pass**' : '**MISS**';
}

function goalText(figure: Figure): string {
  if (!figure.goal) return '';
  const op = figure.goal.op === '<=' ? '≤' : figure.goal.op === '>=' ? '≥' : '=';
  return `${op} ${figure.goal.value.toLocaleString('en')}${figure.unit && figure.unit !== '×' ? ` ${figure.unit}` : figure.unit ?? ''}`;
}

function valueText(figure: Figure): string {
  if (figure.value === null) return 'n/a';
  const value = typeof figure.value === 'number' ? figure.value.toLocaleString('en', { maximumFractionDigits: 4 }) : figure.value;
  return figure.unit ? `${value} ${figure.unit}` : value;
}

function section(o: Outcome): string[] {
  const title = o.result ? `${o.result.id}. ${o.result.title}` : `${o.entry.key}. (failed)`;
  const lines = [`## ${title}`, '', `Command: \`${o.commands.join(' && ')}\` (took ${Math.round(o.seconds)} s)`, ''];
  if (!o.result) return [...lines, 'It failed:', '', '```', o.error ?? '', '```', ''];
  lines.push('| figure | value | goal | result | how |', '|---|---|---|---|---|');
  for (const f of o.result.figures) lines.push(`| ${cell(f.name)} | ${cell(valueText(f))} | ${cell(goalText(f))} | ${verdict(f)} | ${cell(f.how ?? '')} |`);
  lines.push('');
  if (o.result.series.length > 0) {
    lines.push('| samples | unit | median | all (in order taken) |', '|---|---|---|---|');
    for (const s of o.result.series) lines.push(`| ${cell(s.name)} | ${s.unit} | ${round(median(s.samples), 3)} | ${s.samples.join(', ')} |`);
    lines.push('');
  }
  for (const note of o.result.notes) lines.push(`- ${note}`);
  if (o.result.notes.length > 0) lines.push('');
  return lines;
}

function report(outcomes: Outcome[], started: Date, load: number[], seconds: number): string {
  const lines = ['# fleetcd benchmarks (issue 12)', ''];
  if (quick) {
    lines.push(
      '> **QUICK RUN: small sizes, one or two rounds, on a machine busy with other work. These figures only show that the',
      '> suite runs; they are noisy and are NOT the benchmark results.** `npm run bench` on a quiet machine replaces this file.',
      '',
    );
  }
  lines.push(
    `Run ${started.toISOString()} (${Math.round(seconds / 60)} min), ${quick ? 'quick mode' : 'full mode'}: \`node --import tsx bench/run-all.ts ${args.join(' ')}\`.`,
    ...machine().map((m) => `${m}.`),
    `Load average at the start ${load.map((l) => l.toFixed(2)).join(', ')}; at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')}.`,
    '',
    'Method: A/B runs interleaved (A B A B …), medians of at least 5 runs (3 pairs for the 1,000-host runs), ratios of medians; the',
    'sshd hosts, git repositories and daemons are the test helpers’ (test/helpers/), all on 127.0.0.1.',
    '',
    '## Summary',
    '',
    '| benchmark | figure | value | goal | result |',
    '|---|---|---|---|---|',
  );
  for (const o of outcomes) {
    if (!o.result) {
      lines.push(`| ${o.entry.key} | (failed, see below) | | | **MISS** |`);
      continue;
    }
    for (const f of o.result.figures.filter((x) => x.goal)) lines.push(`| ${o.result.id} | ${cell(f.name)} | ${cell(valueText(f))} | ${cell(goalText(f))} | ${verdict(f)} |`);
  }
  lines.push('');
  for (const o of outcomes) lines.push(...section(o));
  return `${lines.join('\n')}\n`;
}

const started = new Date();
const load = loadavg();
if (!args.includes('--no-build')) {
  process.stderr.write('=== npm run build\n');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: projectDir, stdio: ['ignore', 'ignore', 'inherit'] });
}
const outcomes: Outcome[] = [];
for (const entry of entries) {
  if (only && !only.includes(entry.key)) continue;
  outcomes.push(await runEntry(entry));
  // Written after each benchmark, so a long run that is stopped keeps what it measured.
  writeFileSync(out, report(outcomes, started, load, (Date.now() - started.getTime()) / 1000));
}
process.stderr.write(`\nwrote ${out}\n`);
process.exitCode = outcomes.every((o) => o.result) ? 0 : 1;
