import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from '../../src/store/sqlite.js';
import type { HostPage, RunDetail, RunList, StatusView, TargetDetail, TargetView } from '../../src/api/schemas.js';
import { freePort, getJson, runCli, spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { localInventory, playbook } from '../helpers/fleet.js';
import { createFleetRepo, type FleetRepo } from '../helpers/git.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/** The fleet's one playbook: a folder per host and a file in it whose second line names the revision. */
const sitePlaybook = (revision: number): string =>
  playbook(
    '    - name: make the host folder\n      ansible.builtin.file: { path: "{{ host_root }}", state: directory }\n' +
      `    - name: write the file\n      ansible.builtin.copy: { dest: "{{ host_root }}/file", content: "managed by fleetcd\\nrevision ${revision}\\nline 3\\n" }\n`,
  );
const fileContent = (revision: number): string => `managed by fleetcd\nrevision ${revision}\nline 3\n`;

describe('fleetcd CLI against a running daemon', () => {
  let dir: string;
  let repo: FleetRepo;
  let daemon: DaemonProcess;
  let base: string;
  let config: string;
  let first: string;
  const hostFile = (host: string): string => join(dir, 'hosts', host, 'file');
  const cli = (...args: string[]) => runCli(...args, '--config', config);
  const lab = async (): Promise<TargetView> => (await getJson<StatusView>(base, '/api/v1/status')).targets.find((t) => t.name === 'lab')!;
  /** Waits until lab has a finished run and nothing queued or running: its reconcile chain is over. */
  const settled = (what: string): Promise<TargetView> =>
    waitFor(what, async () => {
      const target = await lab();
      return target.lastRun && !target.running && target.lastRun.finishedAt !== null && target.lastRun.followedBy === null ? target : undefined;
    }, 90_000, 200);

  before(async () => {
    dir = tempDir('fleetcd-cli-daemon-');
    repo = await createFleetRepo({ 'playbooks/site.yml': sitePlaybook(1), 'inventories/lab.yml': localInventory(join(dir, 'hosts'), ['one', 'two']) });
    first = repo.head();
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(join(dir, 'api-token'), 'cli-test-token\n', { mode: 0o600 });
    config = join(dir, 'fleetcd.yaml');
    writeFileSync(
      config,
      `repository: { url: ${repo.origin}, pollInterval: 1s }\nstateDir: ${join(dir, 'state')}\n` +
        `api: { listen: "127.0.0.1:${port}", tokenFile: ${join(dir, 'api-token')} }\nreconcile: { mode: detect, interval: 1h }\n`,
    );
    daemon = spawnDaemon(config);
    await daemon.withOutput(settled('the startup check'));
  });

  after(async () => {
    await daemon?.stop();
    repo?.cleanup();
    removeDir(dir);
  });

  test('status, targets, target, runs, show and host print the startup check, and the API JSON with --json', async () => {
    const check = (await lab()).lastRun!;
    const short = first.slice(0, 12);
    const status = cli('status');
    assert.equal(status.code, 0, status.err);
    assert.match(status.out, new RegExp(`^revision\\s+${short} \\(main\\) initial fleet$`, 'm'));
    assert.match(status.out, /^lab\s+drifted\s+detect\s/m);
    assert.equal((JSON.parse(cli('status', '--json').out) as StatusView).targets[0]!.status, 'drifted');

    const targets = cli('targets');
    assert.match(targets.out, /^TARGET\s+STATUS\s+MODE\s+STATE\s+REVISION\s+CHECKED\s+APPLIED\s+DRIFTED\s+WAITING$/m);
    // A detect-mode target that found drift runs nothing fleetcd knows of (issue 17): it only checked the revision.
    assert.match(targets.out, new RegExp(`^lab\\s+drifted\\s+detect\\s+-\\s+- \\(checking ${short}\\)\\s+(just now|\\d+s ago)\\s+-\\s+2/2\\s+-$`, 'm'));
    assert.deepEqual((JSON.parse(cli('targets', '--json').out) as TargetView[]).map((t) => t.name), ['lab']);

    const target = cli('target', 'lab');
    assert.match(target.out, /^lab: drifted \(mode detect\)$/m);
    assert.match(target.out, new RegExp(`^ {2}last run\\s+#${check.id} check succeeded`, 'm'));
    assert.match(target.out, /^ {2}one\s+drifted\s+2$/m);
    assert.deepEqual((JSON.parse(cli('target', 'lab', '--json').out) as TargetDetail).hosts.map((h) => h.name), ['one', 'two']);

    const runs = cli('runs', '--target', 'lab', '--limit', '5');
    assert.match(runs.out, new RegExp(`^${check.id}\\s+lab\\s+check\\s+startup\\s+succeeded\\s+${short}\\s`, 'm'));
    assert.equal((JSON.parse(cli('runs', '--json').out) as RunList).runs[0]!.id, check.id);

    const show = cli('show', String(check.id));
    assert.equal(show.code, 0, show.err);
    assert.match(show.out, new RegExp(`^run #${check.id} check of lab at ${short}: succeeded \\(hosts 2, ok \\d+, changed 4,`, 'm'));
    assert.match(show.out, /^ {2}drift: one \| write the file \(ansible\.builtin\.copy\)$/m);
    // A file that is not there yet has no before_header, and copy's after_header is its temp file: before/after.
    assert.ok(show.out.includes('      --- before\n      +++ after\n      @@ -0,0 +1,3 @@\n      +managed by fleetcd\n      +revision 1\n'), show.out);
    assert.equal((JSON.parse(cli('show', String(check.id), '--json').out) as RunDetail).changes.length, 4);
    const log = cli('show', String(check.id), '--log');
    assert.match(log.out, /TASK \[write the file\]/);
    assert.match(log.out, /PLAY RECAP/);

    const host = cli('host', 'one');
    assert.match(host.out, /^host one$/m);
    assert.match(host.out, new RegExp(`^ {2}lab\\s+drifted\\s+2\\s+#${check.id}$`, 'm'));
    assert.equal((JSON.parse(cli('host', 'one', '--json').out) as HostPage).targets[0]!.target, 'lab');
  });

  test("an answer of the daemon that is not a success is `fleetcd: <the daemon's message>`, exit 1", () => {
    const missing = cli('show', '999999');
    assert.deepEqual([missing.code, missing.err, missing.out], [1, 'fleetcd: no run with id 999999\n', '']);
    const host = cli('host', 'nosuch');
    assert.deepEqual([host.code, host.err], [1, 'fleetcd: no run has included a host named nosuch\n']);
  });

  test('reconcile --check --wait follows the check to its end and exits 2 on drift', () => {
    const result = cli('reconcile', 'lab', '--check', '--wait');
    assert.equal(result.code, 2, result.out + result.err);
    assert.match(result.out, /^run #\d+ check of lab at \w{12}: succeeded/m);
    assert.match(result.out, /^ {2}drift: two \| write the file/m);
    assert.equal(result.err, '', 'no progress line when stderr is not a terminal');
    assert.equal(existsSync(hostFile('one')), false, 'a check changes nothing');
  });

  test('check while the daemon owns the state directory asks the daemon: same output, exit 2 on drift', async () => {
    await settled('the reconcile before');
    const result = cli('check', 'lab');
    assert.equal(result.code, 2, result.out + result.err);
    assert.match(result.err, /^fleetcd: .*state belongs to fleetcd serve \(pid \d+\): asking it at http:\/\/127\.0\.0\.1:\d+ to check$/m);
    assert.match(result.out, new RegExp(`^revision ${first} \\(main\\): initial fleet$`, 'm'));
    assert.match(result.out, /^run #\d+ check of lab at \w{12}: succeeded/m);
    assert.match(result.out, /^ {2}drift: one \| write the file/m);
    assert.equal(existsSync(hostFile('one')), false, 'check never applies');
  });

  test('reconcile --apply --wait exits 0 after a clean apply; a hand edit then shows as a unified diff with context', async () => {
    await settled('the check before');
    const applied = cli('reconcile', 'lab', '--apply', '--wait');
    assert.equal(applied.code, 0, applied.out + applied.err);
    const heads = applied.out.split('\n').filter((line) => line.startsWith('run #'));
    assert.deepEqual(heads.map((line) => / (check|apply) of lab .*: (\w+)/.exec(line)?.slice(1).join(' ')), ['check succeeded', 'apply succeeded', 'check succeeded']);
    assert.equal(readFileSync(hostFile('two'), 'utf8'), fileContent(1));

    await settled('the apply');
    writeFileSync(hostFile('one'), 'managed by fleetcd\nedited by hand\nline 3\n');
    const checked = cli('reconcile', '--check', '--wait', '--json');
    assert.equal(checked.code, 2, checked.out + checked.err);
    const { runs } = JSON.parse(checked.out) as { runs: RunDetail[] };
    assert.deepEqual(runs.map((r) => [r.kind, r.target, r.followedBy]), [['check', 'lab', null]]);
    assert.deepEqual(runs[0]!.changes.map((c) => `${c.host} | ${c.task}`), ['one | write the file']);
    const shown = cli('show', String(runs[0]!.id));
    const diff = [`--- ${hostFile('one')}`, `+++ ${hostFile('one')}`, '@@ -1,3 +1,3 @@', ' managed by fleetcd', '-edited by hand', '+revision 1', ' line 3'];
    assert.ok(shown.out.includes(diff.map((line) => `      ${line}`).join('\n')), shown.out);
  });

  test('a suspended target refuses reconcile --apply with the daemon\'s 409 message (exit 1) until it is resumed', async () => {
    await settled('the check before');
    const suspended = cli('suspend', 'lab', '--reason', 'maintenance');
    assert.equal(suspended.code, 0, suspended.err);
    assert.match(suspended.out, /^suspended lab \(maintenance\): no automatic runs until `fleetcd resume lab`$/m);
    assert.match(cli('target', 'lab').out, /^ {2}suspended\s+by api (just now|\d+s ago): maintenance$/m);
    assert.match(cli('targets').out, /^lab\s+drifted\s+detect\s+suspended\s/m);
    const refused = cli('reconcile', 'lab', '--apply');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /^fleetcd: target lab is suspended.*maintenance.*; resume it first\n$/);
    const applied = cli('apply', 'lab');
    assert.equal(applied.code, 1);
    assert.equal(applied.out, '', 'nothing on stdout (no revision line) before the refusal');
    assert.match(applied.err, /fleetcd: target lab is suspended.*; resume it first\n$/);
    const resumed = cli('resume', 'lab');
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.out, /^resumed lab/);
    assert.equal((await lab()).suspended, false);
  });

  test('rollback applies an earlier revision to every host and holds the target there until resume', async () => {
    await settled('the reconcile of the resume');
    const second = await repo.commit({ 'playbooks/site.yml': sitePlaybook(2) }, 'revision 2');
    await waitFor('the daemon to fetch revision 2', async () => (await getJson<StatusView>(base, '/api/v1/status')).revision?.sha === second, 30_000, 200);
    await waitFor('the check of revision 2', async () => {
      const target = await lab();
      return target.lastRun?.revision === second && !target.running && target.lastRun.finishedAt !== null;
    }, 60_000, 200);
    const rolled = cli('rollback', 'lab', first.slice(0, 12), '--reason', 'bad release', '--wait');
    assert.equal(rolled.code, 0, rolled.out + rolled.err);
    assert.match(rolled.out, new RegExp(`^run #\\d+ apply of lab at ${first.slice(0, 12)}: succeeded`, 'm'));
    assert.equal(readFileSync(hostFile('one'), 'utf8'), fileContent(1), 'the hand edit is gone: revision 1 was applied');
    assert.match(cli('target', 'lab').out, new RegExp(`^ {2}held\\s+at ${first.slice(0, 12)} by api .*: bad release$`, 'm'));
    await settled('the rollback');
    assert.equal(cli('resume', 'lab').code, 0);
    await settled('the reconcile of the resume');
  });

  test('backup copies the database while the daemon runs; the copy passes integrity_check', () => {
    const file = join(dir, 'backup.db');
    const result = cli('backup', file);
    assert.equal(result.code, 0, result.err);
    assert.match(result.out, new RegExp(`^copied .*fleetcd\\.db to ${file}: [\\d.]+ (KiB|MiB), \\d+ runs, integrity ok$`, 'm'));
    const copy = new Database(file, { readonly: true });
    try {
      assert.equal(copy.pragma('integrity_check', { simple: true }), 'ok');
      assert.ok((copy.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n >= 5);
    } finally {
      copy.close();
    }
    const again = cli('backup', file);
    assert.equal(again.code, 1);
    assert.match(again.err, /^fleetcd: .*backup\.db exists/);
  });

  test('--server, $FLEETCD_SERVER and --api reach the daemon without a config; POSTs take $FLEETCD_TOKEN', () => {
    const missing = join(dir, 'no-such-config.yaml');
    assert.equal(runCli('status', '--server', base, '--config', missing).code, 0);
    assert.equal(runCli({ env: { FLEETCD_SERVER: base, FLEETCD_CONFIG: missing } }, 'targets').code, 0);
    assert.equal(runCli('runs', '--api', base, '--config', missing).code, 0);
    const noToken = runCli({ env: { FLEETCD_TOKEN: undefined } }, 'cancel', '999999', '--server', base, '--config', missing);
    assert.equal(noToken.code, 1);
    assert.match(noToken.err, /^fleetcd: this verb needs the API token: pass --token-file, set \$FLEETCD_TOKEN/);
    const withToken = runCli({ env: { FLEETCD_TOKEN: 'cli-test-token' } }, 'cancel', '999999', '--server', base, '--config', missing);
    assert.deepEqual([withToken.code, withToken.err], [1, 'fleetcd: no run with id 999999\n'], 'the daemon took the token and answered');
  });
});

describe('fleetcd usage', () => {
  test('a mistyped verb or flag is an error on stderr that suggests the right one, exit 1', () => {
    const verb = runCli('statsu');
    assert.deepEqual([verb.code, verb.err, verb.out], [1, "fleetcd: unknown command 'statsu' (did you mean 'status'?)\n", '']);
    const flag = runCli('status', '--jsno');
    assert.deepEqual([flag.code, flag.err], [1, "fleetcd: unknown option '--jsno' (did you mean '--json'?)\n"]);
    const id = runCli('show', 'production');
    assert.equal(id.code, 1);
    assert.match(id.err, /^fleetcd: .*'production' is invalid .*must be a run id \(a positive integer\), got "production"; to see target production, run `fleetcd target production`/);
  });

  test('--help lists every verb and the global options; a verb\'s help has its options and exit codes', () => {
    const help = runCli('--help');
    assert.equal(help.code, 0);
    for (const verb of ['serve', 'status', 'targets', 'target', 'runs', 'show', 'host', 'reconcile', 'cancel', 'suspend', 'resume', 'rollback', 'check', 'apply', 'backup', 'validate']) {
      assert.match(help.out, new RegExp(`^ {2}${verb} `, 'm'), verb);
    }
    assert.match(help.out, /--server <url>/);
    const reconcile = runCli('reconcile', '--help');
    assert.equal(reconcile.code, 0);
    for (const option of ['--check', '--apply', '--mode <mode>', '--force', '--wait', '--json', '--config <file>']) assert.ok(reconcile.out.includes(option), option);
    assert.match(reconcile.out, /Exit codes with --wait:\n {2}0 .*\n {2}2 .*drift.*\n {2}1 /);
    assert.match(runCli('check', '--help').out, /asks that daemon instead/);
  });
});

describe('fleetcd validate (no daemon, no lock)', () => {
  let dir: string;
  let config: string;
  const write = (path: string, text: string): void => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  const configText = (): string => `repository: { url: ${join(dir, 'nowhere.git')} }\nstateDir: ${join(dir, 'state')}\n`;

  before(() => {
    dir = tempDir('fleetcd-cli-validate-');
    write('repo/playbooks/site.yml', sitePlaybook(1));
    write('repo/inventories/lab.yml', localInventory(join(dir, 'hosts'), ['one']));
    config = join(dir, 'fleetcd.yaml');
    writeFileSync(config, configText());
  });

  after(() => removeDir(dir));

  test('a valid working copy of the repository exits 0, naming each target, and takes no state directory', () => {
    const result = runCli('validate', '--repo', join(dir, 'repo'), '--config', config);
    assert.equal(result.code, 0, result.out + result.err);
    assert.match(result.out, /^config .*fleetcd\.yaml: valid$/m);
    assert.match(result.out, /^lab: valid \(inventories\/lab\.yml, playbooks\/site\.yml\)$/m);
    assert.match(result.out, /^1 target: 1 valid, 0 with problems$/m);
    assert.equal(existsSync(join(dir, 'state')), false, 'no state directory, no lock');
  });

  test('a broken playbook, an inventory without hosts and a target without inventory exit 1, each naming its target', () => {
    write('repo/playbooks/web.yml', '- hosts: all\n  tasks:\n    - ansible.builtin.copy: { dest: /tmp/x\n');
    write('repo/inventories/web.yml', localInventory(join(dir, 'hosts'), ['w1']));
    write('repo/inventories/cache/hosts.ini', '[cache]\nc1\n');
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, `${configText()}targets:\n  web: { playbook: playbooks/web.yml }\n  ghost: {}\n`);
    const result = runCli('validate', '--repo', join(dir, 'repo'), '--config', broken);
    assert.equal(result.code, 1, result.out + result.err);
    assert.match(result.out, /^web: playbook playbooks\/web\.yml: [\s\S]*ERROR!/m);
    assert.match(result.out, /^cache: inventory inventories\/cache: no hosts/m);
    assert.match(result.out, /^ghost: no inventories\/ghost\/ or inventories\/ghost\.yml\|\.ini in this revision$/m);
    assert.match(result.out, /^lab: valid/m);
    assert.match(result.out, /^4 targets: 1 valid, 3 with problems$/m);
  });

  test('an invalid config exits 1 naming the file, the key and the problem', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, `${configText()}reconcile: { concurrency: two }\n`);
    const result = runCli('validate', '--config', bad);
    assert.equal(result.code, 1);
    assert.match(result.err, /bad\.yaml: reconcile\.concurrency: must be an integer ≥ 1, got "two"/);
  });
});
