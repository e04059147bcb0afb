import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostPage, RunDetail, RunSummary, StatusView, TargetDetail, TargetView } from '../../src/api/schemas.js';
import { renderComparison } from '../../src/cli/render/compare.js';
import { renderDiff } from '../../src/cli/render/diff.js';
import { renderStatus, renderTarget, renderTargets } from '../../src/cli/render/fleet.js';
import { renderHost } from '../../src/cli/render/host.js';
import { renderRun, renderRuns, type Look } from '../../src/cli/render/run.js';
import { colour, plain } from '../../src/cli/render/style.js';

const sha = '0123456789abcdef0123456789abcdef01234567';
const look: Look = { style: plain, now: new Date('2025-03-01T10:05:00.000Z') };

function summary(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    id: 42,
    target: 'web',
    kind: 'check',
    trigger: 'schedule',
    revision: sha,
    status: 'succeeded',
    limit: null,
    queuedAt: '2025-03-01T10:00:00.000Z',
    startedAt: '2025-03-01T10:00:01.000Z',
    finishedAt: '2025-03-01T10:00:09.000Z',
    exitCode: 0,
    error: null,
    followedBy: null,
    requestedBy: null,
    previewId: null,
    summary: { hosts: 2, ok: 7, changed: 1, failed: 0, unreachable: 0, skipped: 2 },
    ...overrides,
  };
}

function detail(overrides: Partial<RunDetail> = {}): RunDetail {
  return { ...summary(), hosts: [], changes: [], failures: [], coverage: null, warnings: [], ...overrides } as RunDetail;
}

function target(overrides: Partial<TargetView> = {}): TargetView {
  return {
    name: 'web',
    mode: 'detect',
    status: 'in-sync',
    running: false,
    lastRun: null,
    problem: null,
    nonIdempotentTasks: [],
    coverage: null,
    revision: { sha, subject: 'Bump nginx', author: 'Alice <alice@example.org>', committedAt: '2025-03-01T08:00:00.000Z' },
    checkedRevision: { sha, subject: 'Bump nginx', author: 'Alice <alice@example.org>', committedAt: '2025-03-01T08:00:00.000Z' },
    lastCheckAt: '2025-03-01T10:00:09.000Z',
    lastApplyAt: null,
    hosts: { total: 2, drifted: 0, unreachable: 0, failed: 0 },
    suspended: false,
    suspension: null,
    held: null,
    waiting: null,
    retry: null,
    sharedHosts: [],
    ...overrides,
  };
}

describe('renderDiff', () => {
  it('makes a unified diff of a string before/after: file names, hunk header, context lines, - and +', () => {
    const lines = renderDiff({
      before: 'line 1\nline 2\ncolor = red\nsize = 2\nline 5\nline 6\n',
      after: 'line 1\nline 2\ncolor = blue\nline 5\nline 6\n',
      before_header: '/etc/app/app.conf',
      after_header: '/etc/app/app.conf',
    });
    assert.deepEqual(lines, [
      '--- /etc/app/app.conf',
      '+++ /etc/app/app.conf',
      '@@ -1,6 +1,5 @@',
      ' line 1',
      ' line 2',
      '-color = red',
      '-size = 2',
      '+color = blue',
      ' line 5',
      ' line 6',
    ]);
  });

  it('keeps three lines of context and puts changes far apart into hunks of their own', () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
    const after = before.map((line, i) => (i === 1 || i === 17 ? `${line} changed` : line));
    const lines = renderDiff({ before: `${before.join('\n')}\n`, after: `${after.join('\n')}\n` });
    assert.deepEqual(
      lines.filter((l) => l.startsWith('@@')),
      ['@@ -1,5 +1,5 @@', '@@ -15,6 +15,6 @@'],
    );
    assert.deepEqual(lines.slice(3, 9), [' line 1', '-line 2', '+line 2 changed', ' line 3', ' line 4', ' line 5']);
    assert.ok(!lines.includes(' line 10'), 'lines far from a change are left out');
  });

  it('shows an added line between its context', () => {
    assert.deepEqual(renderDiff({ before: 'a\nb\n', after: 'a\nnew\nb\n' }), ['--- before', '+++ after', '@@ -1,2 +1,3 @@', ' a', '+new', ' b']);
  });

  it('treats a missing before as an empty file, and says when the last line has no newline', () => {
    assert.deepEqual(renderDiff({ before: null, after: 'hello' }), [
      '--- before',
      '+++ after',
      '@@ -0,0 +1,1 @@',
      '+hello',
      '\\ No newline at end of file',
    ]);
  });

  it('renders dict before/after as indented JSON, the unchanged keys as context', () => {
    const lines = renderDiff({ before: { path: '/srv/app', state: 'absent' }, after: { path: '/srv/app', state: 'directory' } });
    assert.deepEqual(lines, [
      '--- before',
      '+++ after',
      '@@ -1,4 +1,4 @@',
      ' {',
      '   "path": "/srv/app",',
      '-  "state": "absent"',
      '+  "state": "directory"',
      ' }',
    ]);
  });

  it('passes a prepared diff through line by line', () => {
    const prepared = '--- before\n+++ after\n@@ -1 +1 @@\n-old\n+new';
    assert.deepEqual(renderDiff({ prepared, before: 'ignored', after: 'ignored too' }), prepared.split('\n'));
    assert.deepEqual(renderDiff({ prepared: `${prepared}\n` }), prepared.split('\n'), 'its final newline adds no empty line');
  });

  it("names the file after the destination when the after header is the controller's temp file", () => {
    const lines = renderDiff({
      before: 'color = red\n',
      after: 'color = blue\n',
      before_header: '/etc/app/app.conf',
      after_header: '/home/fleetcd/.ansible/tmp/ansible-local-1234abcd/tmpxyz/app.conf.j2',
    });
    assert.deepEqual(lines.slice(0, 3), ['--- /etc/app/app.conf', '+++ /etc/app/app.conf', '@@ -1,1 +1,1 @@']);
    assert.doesNotMatch(lines.join('\n'), /ansible-local-/);
  });

  it('keeps an after header that is not a temp file', () => {
    const lines = renderDiff({ before: 'a', after: 'b', before_header: '/etc/a (content)', after_header: '/etc/a (content after)' });
    assert.equal(lines[1], '+++ /etc/a (content after)');
  });

  it('renders nothing for equal before/after and for entries that are not objects', () => {
    assert.deepEqual(renderDiff({ before: 'same\n', after: 'same\n' }), []);
    assert.deepEqual(renderDiff(null), []);
    assert.deepEqual(renderDiff('a string'), []);
    assert.deepEqual(renderDiff(7), []);
  });
});

describe('renderRun', () => {
  it('heads a run with its id, kind, target, short revision, status and counts, then when and why', () => {
    const lines = renderRun(detail(), look).split('\n');
    assert.equal(lines[0], 'run #42 check of web at 0123456789ab: succeeded (hosts 2, ok 7, changed 1, failed 0, unreachable 0, skipped 2)');
    assert.equal(lines[1], '  trigger schedule, started 4m ago, took 8s');
  });

  it('lists the error, warnings, an aligned host table, each change with its unified diff, and each failure', () => {
    const text = renderRun(
      detail({
        status: 'failed',
        error: 'ansible-playbook failed: boom',
        warnings: ['Could not match supplied host pattern, ignoring: db'],
        hosts: [
          { host: 'web1', ok: 4, changed: 1, failed: 0, unreachable: 0, skipped: 1, rescued: 0, ignored: 0 },
          { host: 'web-long-2', ok: 3, changed: 0, failed: 1, unreachable: 0, skipped: 1, rescued: 0, ignored: 0 },
        ],
        changes: [
          {
            host: 'web1',
            task: 'Write app config',
            module: 'ansible.builtin.copy',
            diff: [{ before: 'color = red\n', after: 'color = blue\n', before_header: '/etc/app.conf', after_header: '/etc/app.conf' }],
          },
          { host: 'web1', task: 'Secret', module: null, diff: null },
        ],
        failures: [{ host: 'web-long-2', task: 'Probe', message: 'non-zero return code' }],
      }),
      look,
    );
    assert.deepEqual(text.split('\n').slice(2), [
      '  error: ansible-playbook failed: boom',
      '  warning: Could not match supplied host pattern, ignoring: db',
      '  HOST        OK  CHANGED  FAILED  UNREACHABLE  SKIPPED',
      '  web1        4   1        0       0            1',
      '  web-long-2  3   0        1       0            1',
      '  drift: web1 | Write app config (ansible.builtin.copy)',
      '      --- /etc/app.conf',
      '      +++ /etc/app.conf',
      '      @@ -1,1 +1,1 @@',
      '      -color = red',
      '      +color = blue',
      '  drift: web1 | Secret (?)',
      '  failed: web-long-2 | Probe: non-zero return code',
    ]);
  });

  it('calls the changes of an apply "changed" rather than "drift"', () => {
    const text = renderRun(detail({ kind: 'apply', changes: [{ host: 'web1', task: 'Write app config', module: 'copy', diff: null }] }), look);
    assert.match(text, /^ {2}changed: web1 \| Write app config \(copy\)$/m);
    assert.doesNotMatch(text, /drift:/);
  });

  it('says who asked, the limit and the run that followed; a running run says how long it has run', () => {
    const followed = renderRun({ ...detail({ limit: 'web1', followedBy: 43 }), requestedBy: 'alice' } as RunDetail, look);
    assert.equal(followed.split('\n')[1], '  trigger schedule, requested by alice, started 4m ago, took 8s, limit web1, followed by run #43');
    const running = renderRun(detail({ status: 'running', finishedAt: null }), look);
    assert.equal(running.split('\n')[1], '  trigger schedule, started 4m ago, running for 4m 59s');
    const queued = renderRun(detail({ status: 'queued', startedAt: null, finishedAt: null }), look);
    assert.equal(queued.split('\n')[1], '  trigger schedule, queued 5m ago');
  });

  it('shows what a check could not verify', () => {
    const coverage = { tasks: 3, verified: 2, unverified: [{ task: 'Restart', reason: 'command' }], text: 'drift checked on 2 of 3 tasks; 1 unverifiable: Restart' };
    assert.match(renderRun(detail({ coverage }), look), /^ {2}coverage: drift checked on 2 of 3 tasks; 1 unverifiable: Restart$/m);
  });

  it('colours statuses and diff lines only with the colour style, keeping the words', () => {
    const run = detail({ changes: [{ host: 'web1', task: 't', module: 'copy', diff: [{ before: 'a\n', after: 'b\n' }] }] });
    const coloured = renderRun(run, { ...look, style: colour });
    assert.match(coloured, /\x1b\[32msucceeded\x1b\[39m/);
    assert.match(coloured, /\x1b\[31m-a\x1b\[39m/);
    assert.doesNotMatch(renderRun(run, look), /\x1b\[/);
  });
});

describe('renderRuns', () => {
  it('aligns one row per run with its age, duration and counts', () => {
    const text = renderRuns([summary({ id: 100, kind: 'apply', trigger: 'api' }), summary({ id: 99, status: 'queued', startedAt: null, finishedAt: null })], look);
    assert.deepEqual(text.split('\n'), [
      'RUN  TARGET  KIND   TRIGGER   STATUS     REVISION      STARTED        TOOK  HOSTS  CHANGED  FAILED  UNREACHABLE',
      '100  web     apply  api       succeeded  0123456789ab  4m ago         8s    2      1        0       0',
      '99   web     check  schedule  queued     0123456789ab  queued 5m ago  -     2      1        0       0',
    ]);
    assert.equal(renderRuns([], look), 'no runs');
  });
});

describe('renderStatus and renderTargets', () => {
  const status: StatusView = {
    revision: { sha, branch: 'main', fetchedAt: '2025-03-01T10:00:00.000Z', subject: 'Bump nginx' },
    source: { error: null, lastFetchAt: '2025-03-01T10:04:58.000Z' },
    config: { file: '/etc/fleetcd/fleetcd.yaml', loadedAt: '2025-03-01T09:00:00.000Z' },
    targets: [
      target({
        name: 'db',
        mode: 'apply',
        status: 'drifted',
        running: true,
        lastApplyAt: '2025-03-01T07:00:00.000Z',
        hosts: { total: 3, drifted: 1, unreachable: 1, failed: 0 },
        waiting: { reason: 'window', detail: 'outside its apply windows', until: '2025-03-01T22:00:00.000Z' },
      }),
      target({ name: 'web-frontends', status: 'unknown', revision: null, checkedRevision: null, lastCheckAt: null, problem: 'playbook playbooks/site.yml does not exist in this revision' }),
    ],
  };

  it('shows the revision, the fetches, the config, then one aligned row per target and the problems', () => {
    assert.deepEqual(renderStatus(status, look).split('\n'), [
      'revision  0123456789ab (main) Bump nginx',
      'fetched   5m ago (last fetch 2s ago)',
      'config    /etc/fleetcd/fleetcd.yaml (loaded 1h ago)',
      '',
      'TARGET         STATUS   MODE    STATE    REVISION      CHECKED  APPLIED  DRIFTED             WAITING',
      'db             drifted  apply   running  0123456789ab  4m ago   3h ago   1/3, 1 unreachable  window (in 11h)',
      'web-frontends  unknown  detect  -        -             -        -        0/2                 -',
      '',
      'problems:',
      '  web-frontends: playbook playbooks/site.yml does not exist in this revision',
    ]);
  });

  it('says when no revision has been fetched and shows the source error', () => {
    const text = renderStatus({ ...status, revision: null, source: { error: 'git fetch failed: could not resolve host', lastFetchAt: null }, targets: [] }, look);
    assert.deepEqual(text.split('\n').slice(0, 3), [
      'revision      none fetched yet',
      'source error  git fetch failed: could not resolve host',
      'config        /etc/fleetcd/fleetcd.yaml (loaded 1h ago)',
    ]);
  });

  it('marks suspended and held targets in their row', () => {
    const held = { revision: sha, reason: null, at: '2025-03-01T10:00:00.000Z', by: 'api' };
    const row = renderTargets([target({ suspended: true, suspension: { reason: null, at: '2025-03-01T10:00:00.000Z', by: 'api' }, held })], look).split('\n')[1];
    assert.match(row!, /^web\s+in-sync\s+detect\s+suspended, held\s+0123456789ab/);
  });
});

describe('a target that checks one revision and runs another', () => {
  const newer = 'fedcba9876543210fedcba9876543210fedcba98';
  const checked = { sha: newer, subject: 'Raise the worker count', author: 'Bob <bob@example.org>', committedAt: '2025-03-01T09:00:00.000Z' };

  it('shows both in its row of `fleetcd targets`, and one sha when they are the same', () => {
    const rows = renderTargets([target({ checkedRevision: checked }), target({ name: 'db' })], look).split('\n');
    assert.match(rows[1]!, /^web\s+in-sync\s+detect\s+-\s+0123456789ab \(checking fedcba987654\)\s+4m ago/);
    assert.match(rows[2]!, /^db\s+in-sync\s+detect\s+-\s+0123456789ab\s+4m ago/);
  });

  it('shows what it checks in `fleetcd target`, and "none applied yet" when it runs nothing', () => {
    const detail = (view: TargetView): string[] => renderTarget({ ...view, hosts: [] }, look).split('\n');
    assert.deepEqual(detail(target({ checkedRevision: checked })).slice(1, 3), [
      '  revision    0123456789ab Bump nginx (Alice <alice@example.org>, 2h ago)',
      '  checking    fedcba987654 Raise the worker count (Bob <bob@example.org>, 1h ago)',
    ]);
    assert.deepEqual(detail(target({ revision: null, checkedRevision: checked })).slice(1, 3), [
      '  revision    none applied yet',
      '  checking    fedcba987654 Raise the worker count (Bob <bob@example.org>, 1h ago)',
    ]);
  });
});

describe('renderComparison', () => {
  const commit = (n: number, files: string[], moreFiles = 0) => ({
    sha: String(n).repeat(40).slice(0, 40),
    subject: `change ${n}`,
    author: 'Alice <alice@example.org>',
    committedAt: '2025-03-01T09:05:00.000Z',
    files,
    moreFiles,
  });
  const side = (target: string, n: number) => ({ target, revision: { sha: String(n).repeat(40).slice(0, 40), subject: `change ${n}`, author: 'Alice', committedAt: '2025-03-01T09:05:00.000Z' } });

  it('names each side, says the answer, then lists the commits each way with their files', () => {
    const text = renderComparison(
      {
        from: side('staging', 2),
        to: side('production', 1),
        ahead: [commit(2, ['roles/web/defaults/main.yml'], 3)],
        behind: [],
        diverged: false,
        summary: 'staging runs 1 commit that production does not',
      },
      look,
    );
    assert.deepEqual(text.split('\n'), [
      'staging runs 222222222222 change 2',
      'production runs 111111111111 change 1',
      '',
      'staging runs 1 commit that production does not',
      '',
      'staging runs, production does not:',
      '  222222222222  change 2  (Alice <alice@example.org>, 1h ago)',
      '      roles/web/defaults/main.yml',
      '      … and 3 more files',
    ]);
  });

  it('lists both sides when they diverged', () => {
    const text = renderComparison(
      { from: side('staging', 3), to: side('production', 4), ahead: [commit(3, [])], behind: [commit(4, [])], diverged: true, summary: 'staging and production have diverged' },
      look,
    );
    assert.match(text, /staging runs, production does not:\n {2}333333333333 {2}change 3/);
    assert.match(text, /production runs, staging does not:\n {2}444444444444 {2}change 4/);
  });
});

describe('renderTarget', () => {
  it('shows the view, what holds it and its hosts', () => {
    const detailView: TargetDetail = {
      ...target({
        status: 'drifted',
        lastRun: summary(),
        problem: 'held at 0123456789ab by api',
        suspended: true,
        suspension: { reason: 'maintenance', at: '2025-03-01T10:01:00.000Z', by: 'api' },
        held: { revision: sha, reason: 'bad release', at: '2025-03-01T10:02:00.000Z', by: 'api' },
        waiting: { reason: 'retry', detail: 'apply failed; retrying', until: '2025-03-01T10:10:00.000Z' },
        retry: { attempt: 2, nextAt: '2025-03-01T10:10:00.000Z' },
        sharedHosts: ['db1'],
        nonIdempotentTasks: ['Restart app'],
      }),
      hosts: [
        { name: 'web1', status: 'drifted', changedTasks: 2 },
        { name: 'web2', status: 'in-sync', changedTasks: 0 },
      ],
    };
    assert.deepEqual(renderTarget(detailView, look).split('\n'), [
      'web: drifted (mode detect, suspended, held)',
      '  revision        0123456789ab Bump nginx (Alice <alice@example.org>, 2h ago)',
      '  last run        #42 check succeeded 4m ago',
      '  last check      4m ago',
      '  problem         held at 0123456789ab by api',
      '  suspended       by api 4m ago: maintenance',
      '  held            at 0123456789ab by api 3m ago: bad release',
      '  waiting         retry: apply failed; retrying (until 2025-03-01T10:10:00.000Z, in 5m)',
      '  retry           attempt 2, next in 5m',
      '  shared hosts    db1',
      '  not idempotent  Restart app',
      '',
      '  HOST  STATUS   CHANGED TASKS',
      '  web1  drifted  2',
      '  web2  in-sync  0',
    ]);
  });
});

describe('renderHost', () => {
  it('shows the host per target, its changes with diffs, failures and runs', () => {
    const host: HostPage = {
      name: 'web1',
      targets: [{ target: 'web', status: 'drifted', runId: 42, changedTasks: 1 }],
      changes: [{ runId: 42, target: 'web', host: 'web1', task: 'Write app config', module: 'copy', diff: [{ before: 'a\n', after: 'b\n' }] }],
      failures: [{ runId: 40, target: 'web', host: 'web1', task: 'Probe', message: 'boom' }],
      runs: [summary()],
    };
    const lines = renderHost(host, look).split('\n');
    assert.deepEqual(lines.slice(0, 16), [
      'host web1',
      '  TARGET  STATUS   CHANGED TASKS  RUN',
      '  web     drifted  1              #42',
      '',
      'changes, newest first:',
      '  #42 web | Write app config (copy)',
      '      --- before',
      '      +++ after',
      '      @@ -1,1 +1,1 @@',
      '      -a',
      '      +b',
      '',
      'failures, newest first:',
      '  #40 web | Probe: boom',
      '',
      'runs:',
    ]);
    assert.match(lines[17]!, /^ {2}42\s+web\s+check\s+schedule\s+succeeded/);
  });
});
