/**
 * A guided run of fleetcd's main job, against the embedded demo fleet (playbooks/ and inventories/ of this
 * repository): the daemon clones it, finds every host drifted, applies, and answers on its API; then a hand
 * edit on a host is found and healed, and a new commit is rolled out. Everything stays under .demo/.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';

const project = resolve(import.meta.dirname ?? '.', '..');
const demo = resolve(process.env.FLEETCD_DEMO_DIR ?? join(project, '.demo'));
const port = Number(process.env.FLEETCD_DEMO_PORT ?? 9110);
const api = `http://127.0.0.1:${port}`;
const keep = process.argv.includes('--keep');

type Run = { id: number; kind: string; status: string; followedBy: number | null; summary: { changed: number; hosts: number } };
type Status = { revision: { sha: string } | null; targets: Array<{ name: string; status: string; running: boolean; lastRun: Run | null }> };

const say = (text: string): void => console.log(`\n\x1b[1m==> ${text}\x1b[0m`);
/** git with the demo's author, in `cwd`; the trimmed output. */
export const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=fleetcd demo', '-c', 'user.email=demo@fleetcd.invalid', ...args], { cwd, encoding: 'utf8' }).trim();
const fleetcd = (...args: string[]): string =>
  execFileSync(process.execPath, [join(project, 'bin', 'fleetcd'), ...args, '--config', join(demo, 'fleetcd.yaml')], { encoding: 'utf8' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${api}${path}`);
  return (await response.json()) as T;
}

/** Waits until the demo target has no queued or running run and its newest run chain has ended. */
async function settled(): Promise<Status['targets'][number]> {
  for (let i = 0; i < 600; i++) {
    const status = await get<Status>('/api/v1/status').catch(() => undefined);
    const target = status?.targets.find((t) => t.name === 'demo');
    if (target && !target.running && target.lastRun && target.lastRun.followedBy === null) return target;
    await sleep(250);
  }
  throw new Error('the demo target did not settle within 150 s');
}

/**
 * The demo fleet's repository under `dir`: this checkout's playbooks/ and inventories/ committed to a working
 * clone (`work`) and pushed to `origin` (bare, branch main). Benchmarks build the same fleet with it.
 */
export function makeFleetRepo(dir: string): { origin: string; work: string } {
  const origin = join(dir, 'fleet-config.git');
  const work = join(dir, 'fleet-config');
  git(dir, 'init', '-q', '--bare', '-b', 'main', origin);
  git(dir, 'clone', '-q', origin, work);
  cpSync(join(project, 'playbooks'), join(work, 'playbooks'), { recursive: true });
  cpSync(join(project, 'inventories'), join(work, 'inventories'), { recursive: true });
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'Demo fleet: baseline for web and db hosts');
  git(work, 'push', '-q', 'origin', 'main');
  return { origin, work };
}

async function main(): Promise<void> {
  rmSync(demo, { recursive: true, force: true });
  mkdirSync(demo, { recursive: true });
  say('Making the fleet repository: this checkout\'s playbooks/ and inventories/, committed to a local git repo');
  const { origin, work } = makeFleetRepo(demo);

  const token = randomBytes(16).toString('hex');
  writeFileSync(join(demo, 'api-token'), `${token}\n`, { mode: 0o600 });
  writeFileSync(
    join(demo, 'fleetcd.yaml'),
    `# Written by the demo. The demo target applies (self-heals); its hosts are folders under hosts/.
repository:
  url: ${origin}
  branch: main
  pollInterval: 2s
stateDir: ${join(demo, 'state')}
api:
  listen: 127.0.0.1:${port}
  tokenFile: ${join(demo, 'api-token')}
reconcile:
  mode: detect
  interval: 15m
  concurrency: 2
targets:
  demo:
    mode: apply
    extraVars: { demo_root: ${join(demo, 'hosts')} }
`,
  );
  console.log(readFileSync(join(demo, 'fleetcd.yaml'), 'utf8'));

  say(`Starting the daemon: fleetcd serve (log in ${join(demo, 'fleetcd.log')})`);
  const started = Date.now();
  const log = join(demo, 'fleetcd.log');
  const daemon = spawn(process.execPath, [join(project, 'bin', 'fleetcd'), 'serve', '--config', join(demo, 'fleetcd.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  daemon.stderr.on('data', (chunk: Buffer) => writeFileSync(log, chunk, { flag: 'a' }));
  const stop = async (): Promise<void> => {
    if (daemon.exitCode !== null) return;
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
  };
  try {
    const first = await settled();
    const inSyncMs = Date.now() - started;
    console.log(fleetcd('runs', '--limit', '5'));
    const check = first.lastRun!;
    say(`Cloned, checked, found drift on fresh hosts, applied and verified: ${first.status} in ${(inSyncMs / 1000).toFixed(1)} s`);
    console.log(fleetcd('status'));

    say('A person edits a managed file on web2 by hand: drift');
    writeFileSync(join(demo, 'hosts', 'web2', 'etc', 'motd'), 'I was edited by hand at 3 a.m.\n');
    say('fleetcd check: the daemon owns the state directory, so the CLI asks it to check (never applies; exit code 2 = drift)');
    const checked = spawnSync(process.execPath, [join(project, 'bin', 'fleetcd'), 'check', 'demo', '--config', join(demo, 'fleetcd.yaml')], {
      encoding: 'utf8',
    });
    if (checked.status !== 2) {
      throw new Error(`fleetcd check exited ${checked.status}, expected 2 (drift on web2): ${checked.stderr}${checked.stdout}`);
    }
    process.stderr.write(checked.stderr);
    console.log(checked.stdout.split('\n').filter((l) => /^run #|^ {2}drift:|^ {6}/.test(l)).join('\n'));
    console.log('exit code 2: drift found by the daemon\'s check, nothing applied');
    say('Asking the daemon to reconcile now (POST /api/v1/reconcile): it checks, applies to web2 only, verifies');
    console.log(fleetcd('reconcile', 'demo'));
    await sleep(500);
    await settled();
    console.log(fleetcd('runs', '--limit', '3'));
    console.log(`web2 motd is back: ${JSON.stringify(readFileSync(join(demo, 'hosts', 'web2', 'etc', 'motd'), 'utf8'))}`);

    say('A new commit: web servers get 8 workers. The daemon fetches it (pollInterval 2s) and rolls it out');
    const inventory = join(work, 'inventories', 'demo.yml');
    writeFileSync(inventory, readFileSync(inventory, 'utf8').replace('web_workers: 4', 'web_workers: 8'));
    git(work, 'commit', '-q', '-am', 'web: 8 workers');
    git(work, 'push', '-q', 'origin', 'main');
    const sha = git(work, 'rev-parse', 'HEAD');
    for (let i = 0; i < 120; i++) {
      const status = await get<Status>('/api/v1/status');
      if (status.revision?.sha === sha) break;
      await sleep(250);
    }
    await sleep(500);
    const after = await settled();
    const run = await get<Run & { changes: Array<{ host: string; task: string }> }>(`/api/v1/runs/${after.lastRun!.id}`);
    console.log(fleetcd('runs', '--limit', '3'));
    console.log(`web1 web.conf now: ${JSON.stringify(readFileSync(join(demo, 'hosts', 'web1', 'etc', 'web.conf'), 'utf8'))}`);
    say(`Done. First in-sync after ${(inSyncMs / 1000).toFixed(1)} s; the fleet is ${after.status} at ${sha.slice(0, 12)} (last run #${run.id}).`);
    console.log(`The API answered all along, e.g.:\n  curl ${api}/api/v1/status\n  curl ${api}/api/v1/runs/${check.id}`);
    if (keep) {
      console.log(`\nThe daemon keeps running (--keep): try  bin/fleetcd status --config ${join(demo, 'fleetcd.yaml')}\nStop it with Ctrl-C.`);
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
  } finally {
    await stop();
  }
}

// Imported (by a benchmark), the demo does not run.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`demo failed: ${String(error)}\nsee ${join(demo, 'fleetcd.log')}`);
    process.exitCode = 1;
  });
}
