import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { inventoryYaml, type SshHosts, startSshHosts } from '../helpers/sshd.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const pluginDir = fileURLToPath(new URL('../../ansible/callback_plugins', import.meta.url));
const RUN_TIMEOUT_MS = 45_000;

interface DiffEntry {
  before: unknown;
  after: unknown;
  before_header: string | null;
  after_header: string | null;
  prepared: string | null;
  truncated?: boolean;
}

interface FleetEvent {
  event: string;
  host?: string;
  task?: string;
  action?: string;
  check_mode?: boolean | string | null;
  ignored?: boolean;
  msg?: string | null;
  skip_reason?: string | null;
  diff?: DiffEntry[] | null;
  censored?: boolean;
  stderr?: string | null;
  duration?: number | null;
  hosts?: Record<string, Record<string, number>>;
}

interface PlaybookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  events: FleetEvent[];
}

const PLAYBOOK = `- name: Converge demo app
  hosts: all
  gather_facts: false
  tasks:
    - name: Ensure app directory
      ansible.builtin.file:
        path: "{{ host_root }}/etc/app"
        state: directory
        mode: "0755"
    - name: Write app config
      ansible.builtin.copy:
        content: "color = blue\\n"
        dest: "{{ host_root }}/etc/app/app.conf"
    - name: Write app parts
      ansible.builtin.copy:
        content: "{{ item }}\\n"
        dest: "{{ host_root }}/etc/app/{{ item }}.part"
      loop: [alpha, beta]
    - name: Reload app
      ansible.builtin.command: /bin/true
    - name: Write app secret
      ansible.builtin.copy:
        content: "token = s3cr3t\\n"
        dest: "{{ host_root }}/etc/app/secret.conf"
      no_log: true
    - name: Probe that fails
      ansible.builtin.command:
        argv: [/bin/sh, -c, "echo probe-broke >&2; exit 3"]
      check_mode: false
      ignore_errors: true
`;

function runPlaybook(dir: string): Promise<PlaybookRun> {
  const child = spawn('ansible-playbook', ['-i', 'inv.yml', 'site.yml', '--check', '--diff'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ANSIBLE_CALLBACK_PLUGINS: pluginDir,
      ANSIBLE_CALLBACKS_ENABLED: 'fleetcd_events',
      FLEETCD_EVENT_FD: '3',
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_PIPELINING: '1',
      ANSIBLE_LOCAL_TEMP: join(dir, 'ansible-tmp'),
      ANSIBLE_SSH_CONTROL_PATH_DIR: join(dir, 'cp'),
    },
  });
  const collect = (stream: Readable): (() => string) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    return () => text;
  };
  const stdout = collect(child.stdout!);
  const stderr = collect(child.stderr!);
  const events = collect(child.stdio[3] as Readable);
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const lines = events().split('\n').filter((line) => line.trim() !== '');
      resolve({ code, stdout: stdout(), stderr: stderr(), events: lines.map((line) => JSON.parse(line) as FleetEvent) });
    });
  });
}

describe('fleetcd_events callback plugin in a --check --diff run over ssh', { timeout: 60_000 }, () => {
  let ssh: SshHosts | undefined;
  let dir = '';
  let run: PlaybookRun;
  const resultOf = (host: string, task: string): FleetEvent => {
    const found = run.events.find((e) => e.host === host && e.task === task && e.event !== 'task_start');
    assert.ok(found, `no result event for ${host} / ${task}; events:\n${JSON.stringify(run.events, null, 1)}`);
    return found;
  };

  before(async () => {
    ssh = await startSshHosts(2);
    dir = tempDir('fleetcd-callback-');
    const hostRoot = (name: string): string => join(dir, 'roots', name);
    mkdirSync(join(hostRoot('host1'), 'etc', 'app'), { recursive: true });
    writeFileSync(join(hostRoot('host1'), 'etc', 'app', 'app.conf'), 'color = red\n');
    mkdirSync(hostRoot('host2'), { recursive: true });
    const inventory = inventoryYaml(ssh.hosts, {
      hostRoot,
      keyFile: ssh.keyFile,
      knownHostsFile: ssh.knownHostsFile,
      unreachable: true,
      unreachablePort: ssh.unreachablePort,
    });
    writeFileSync(join(dir, 'inv.yml'), inventory);
    writeFileSync(join(dir, 'site.yml'), PLAYBOOK);
    run = await runPlaybook(dir);
  });

  after(async () => {
    await ssh?.stop();
    if (dir) removeDir(dir);
  });

  it('exits 4 because ghost is unreachable and the only failure was ignored', () => {
    assert.equal(run.code, 4, `stderr:\n${run.stderr}\nstdout:\n${run.stdout}`);
  });

  it('leaves the human log on stdout', () => {
    assert.match(run.stdout, /PLAY RECAP \*+/);
    assert.match(run.stdout, /host1\s+: ok=\d+\s+changed=\d+/);
  });

  it('reports per-host stats, with ghost unreachable', () => {
    const stats = run.events.filter((e) => e.event === 'stats');
    assert.equal(stats.length, 1);
    const hosts = stats[0]!.hosts!;
    assert.deepEqual(Object.keys(hosts).sort(), ['ghost', 'host1', 'host2']);
    assert.equal(hosts.ghost!.unreachable, 1);
    assert.equal(hosts.host1!.unreachable, 0);
    assert.equal(hosts.host1!.ignored, 1);
    assert.equal(hosts.host1!.failures, 0);
  });

  it('reports the drifted config as changed with its diff', () => {
    const event = resultOf('host1', 'Write app config');
    assert.equal(event.event, 'changed');
    assert.equal(event.action, 'ansible.builtin.copy');
    assert.equal(event.censored, false);
    assert.equal(event.diff?.length, 1);
    assert.equal(event.diff[0]!.before, 'color = red\n');
    assert.equal(event.diff[0]!.after, 'color = blue\n');
    assert.equal(typeof event.duration, 'number');
  });

  it('reports a loop task once per host, carrying the diff of every item', () => {
    const results = run.events.filter((e) => e.host === 'host1' && e.task === 'Write app parts' && e.event !== 'task_start');
    assert.equal(results.length, 1, JSON.stringify(results));
    assert.equal(results[0]!.event, 'changed');
    assert.deepEqual(
      results[0]!.diff?.map((d) => d.after),
      ['alpha\n', 'beta\n'],
    );
  });

  it('reports the command as skipped with check mode as the reason', () => {
    const event = resultOf('host2', 'Reload app');
    assert.equal(event.event, 'skipped');
    assert.match(event.skip_reason ?? '', /would have run if not in check mode/);
  });

  it('censors the no_log task: no diff, no msg', () => {
    for (const host of ['host1', 'host2']) {
      const event = resultOf(host, 'Write app secret');
      assert.equal(event.event, 'changed');
      assert.equal(event.censored, true);
      assert.equal(event.diff, null);
      assert.equal(event.msg, null);
    }
    assert.doesNotMatch(JSON.stringify(run.events), /s3cr3t/);
  });

  it('reports the ignored failure with its stderr, and check_mode false on its task_start', () => {
    const event = resultOf('host1', 'Probe that fails');
    assert.equal(event.event, 'failed');
    assert.equal(event.ignored, true);
    assert.equal(event.stderr, 'probe-broke');
    const start = run.events.find((e) => e.event === 'task_start' && e.task === 'Probe that fails');
    assert.equal(start?.check_mode, false);
  });

  it('reports ghost as unreachable with the ssh message', () => {
    const event = resultOf('ghost', 'Ensure app directory');
    assert.equal(event.event, 'unreachable');
    // Usually "Connection refused"; under load ssh sometimes reports the refused socket as a broken pipe.
    assert.match(event.msg ?? '', /Connection refused|Broken pipe|Failed to connect/);
  });
});
