import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderDiff, renderRun, renderStatus } from '../../src/cli/render.js';
import type { RunDetail, RunSummary, StatusView, TargetView } from '../../src/api/schemas.js';

const sha = '0123456789abcdef0123456789abcdef01234567';

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
    ...overrides,
  } as TargetView;
}

describe('renderDiff', () => {
  it('shows only the changed middle lines of a string before/after, with - and +', () => {
    const lines = renderDiff({
      before: 'line 1\nline 2\ncolor = red\nsize = 2\nline 5\nline 6\n',
      after: 'line 1\nline 2\ncolor = blue\nline 5\nline 6\n',
      before_header: '/etc/app/app.conf',
      after_header: '/etc/app/app.conf',
    });
    assert.deepEqual(lines, ['--- /etc/app/app.conf', '+++ /etc/app/app.conf', '-color = red', '-size = 2', '+color = blue']);
  });

  it('shows an added line with no removed lines', () => {
    assert.deepEqual(renderDiff({ before: 'a\nb\n', after: 'a\nnew\nb\n' }), ['--- before', '+++ after', '+new']);
  });

  it('treats a missing before as an empty file', () => {
    assert.deepEqual(renderDiff({ before: null, after: 'hello' }), ['--- before', '+++ after', '-', '+hello']);
  });

  it('renders dict before/after as indented JSON and shows the changed keys', () => {
    const lines = renderDiff({ before: { path: '/srv/app', state: 'absent' }, after: { path: '/srv/app', state: 'directory' } });
    assert.deepEqual(lines, ['--- before', '+++ after', '-  "state": "absent"', '+  "state": "directory"']);
  });

  it('passes a prepared diff through line by line', () => {
    const prepared = '--- before\n+++ after\n@@ -1 +1 @@\n-old\n+new';
    assert.deepEqual(renderDiff({ prepared, before: 'ignored', after: 'ignored too' }), prepared.split('\n'));
  });

  it("replaces the controller's temp file named as the after header by the destination", () => {
    const lines = renderDiff({
      before: 'color = red\n',
      after: 'color = blue\n',
      before_header: '/etc/app/app.conf',
      after_header: '/home/fleetcd/.ansible/tmp/ansible-local-1234abcd/tmpxyz/app.conf.j2',
    });
    assert.deepEqual(lines.slice(0, 2), ['--- /etc/app/app.conf', '+++ /etc/app/app.conf']);
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
  it('heads a run with its id, kind, target, short revision, status and counts', () => {
    const text = renderRun(detail());
    assert.equal(
      text.split('\n')[0],
      'run #42 check of web at 0123456789ab: succeeded (hosts 2, ok 7, changed 1, failed 0, unreachable 0, skipped 2)',
    );
  });

  it('lists the error, each host, each change with its diff, and each failure', () => {
    const text = renderRun(
      detail({
        status: 'failed',
        error: 'ansible-playbook failed: boom',
        hosts: [
          { host: 'web1', ok: 4, changed: 1, failed: 0, unreachable: 0, skipped: 1, rescued: 0, ignored: 0 },
          { host: 'web2', ok: 3, changed: 0, failed: 1, unreachable: 0, skipped: 1, rescued: 0, ignored: 0 },
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
        failures: [{ host: 'web2', task: 'Probe', message: 'non-zero return code' }],
      }),
    );
    assert.deepEqual(text.split('\n').slice(1), [
      '  error: ansible-playbook failed: boom',
      '  web1: ok=4 changed=1 failed=0 unreachable=0 skipped=1',
      '  web2: ok=3 changed=0 failed=1 unreachable=0 skipped=1',
      '  drift: web1 | Write app config (ansible.builtin.copy)',
      '      --- /etc/app.conf',
      '      +++ /etc/app.conf',
      '      -color = red',
      '      +color = blue',
      '  drift: web1 | Secret (?)',
      '  failed: web2 | Probe: non-zero return code',
    ]);
  });

  it('calls the changes of an apply "changed" rather than "drift"', () => {
    const text = renderRun(detail({ kind: 'apply', changes: [{ host: 'web1', task: 'Write app config', module: 'copy', diff: null }] }));
    assert.match(text, /^ {2}changed: web1 \| Write app config \(copy\)$/m);
    assert.doesNotMatch(text, /drift:/);
  });
});

describe('renderStatus', () => {
  it('shows the short revision, branch and fetch time, then one aligned row per target', () => {
    const status: StatusView = {
      revision: { sha, branch: 'main', fetchedAt: '2025-03-01T10:00:00.000Z', subject: 'Bump nginx' },
      source: { error: null, lastFetchAt: '2025-03-01T10:00:00.000Z' },
      config: { file: '/etc/fleetcd/fleetcd.yaml', loadedAt: '2025-03-01T09:00:00.000Z' },
      targets: [
        target({ name: 'db', mode: 'apply', status: 'drifted', running: true, lastRun: summary({ id: 7, target: 'db', kind: 'apply', status: 'running' }) }),
        target({ name: 'web-frontends', status: 'unknown', problem: 'playbook playbooks/site.yml does not exist in this revision' }),
      ],
    };
    assert.deepEqual(renderStatus(status).split('\n'), [
      'revision 0123456789ab (main) fetched 2025-03-01T10:00:00.000Z',
      'TARGET         MODE    STATUS   RUNNING  LAST RUN          PROBLEM',
      'db             apply   drifted  yes      #7 apply running',
      'web-frontends  detect  unknown  no       -                 playbook playbooks/site.yml does not exist in this revision',
    ]);
  });

  it('says when no revision has been fetched and shows the source error', () => {
    const text = renderStatus({
      revision: null,
      source: { error: 'git fetch failed: could not resolve host', lastFetchAt: null },
      config: { file: '/etc/fleetcd/fleetcd.yaml', loadedAt: '2025-03-01T09:00:00.000Z' },
      targets: [],
    });
    assert.deepEqual(text.split('\n'), [
      'revision: none fetched yet',
      'source error: git fetch failed: could not resolve host',
      'TARGET  MODE  STATUS  RUNNING  LAST RUN  PROBLEM',
    ]);
  });
});
