import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventLine, toHostRecaps, toTaskResult, type AnsibleEvent } from '../../src/runner/events.js';

/** A result event as the fleetcd_events plugin writes it; `overrides` change or add fields. */
function resultLine(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: 'changed',
    uuid: '0242ac11-0002-7e05-d7ec-000000000008',
    host: 'web1',
    task: 'Write app config',
    action: 'ansible.builtin.copy',
    path: '/repo/playbooks/site.yml:12',
    duration: 0.4567,
    ignored: false,
    msg: null,
    skip_reason: null,
    diff: [{ before: 'color = red\n', after: 'color = blue\n', before_header: '/etc/app.conf', after_header: null, prepared: null }],
    censored: false,
    ...overrides,
  });
}

function parsed(line: string): AnsibleEvent {
  const event = parseEventLine(line);
  assert.ok(event, `expected an event from ${line}`);
  return event;
}

describe('parseEventLine', () => {
  it('parses a line holding a JSON object with an event name', () => {
    const event = parsed(resultLine());
    assert.equal(event.event, 'changed');
    assert.equal('host' in event && event.host, 'web1');
  });

  it('tolerates a trailing carriage return', () => {
    assert.equal(parsed(`${JSON.stringify({ event: 'play_start', play: 'Converge' })}\r`).event, 'play_start');
  });

  it('drops garbage without throwing', () => {
    const garbage = [
      '',
      '   ',
      'PLAY [all] ****',
      '[1,2,3]',
      'null',
      '"event"',
      '{',
      '{"event": "ok",',
      '{"event": "ok"} trailing',
      '{not json}',
      ' {"event":"ok"}',
      '\u0000\u0001binary',
    ];
    for (const line of garbage) assert.equal(parseEventLine(line), undefined, JSON.stringify(line));
  });

  it('drops lines that fit no event schema: the reproduction, wrong types, missing fields, unknown kinds', () => {
    const misfits = [
      { event: 'stats' },
      { event: 'stats', hosts: { web1: { ok: 'many' } } },
      { event: 'stats', hosts: [] },
      { event: 'ok', host: 5, task: ['x'] },
      { event: 'changed', host: 'web1' },
      JSON.parse(resultLine({ diff: 'not a list' })),
      JSON.parse(resultLine({ censored: 'yes' })),
      { event: 'task_start' },
      { event: 'play_start', play: 3 },
      { event: 'something_new', host: 'web1', task: 'x' },
    ];
    for (const value of misfits) assert.equal(parseEventLine(JSON.stringify(value)), undefined, JSON.stringify(value).slice(0, 80));
  });

  it("accepts the plugin's own fallback when it could not describe a result, which records nothing", () => {
    const event = parsed(JSON.stringify({ event: 'ok', host: 'web1', build_error: 'boom' }));
    assert.deepEqual(event, { event: 'undescribed', kind: 'ok', error: 'boom' });
    assert.equal(toTaskResult(event), undefined);
    assert.equal(parsed(JSON.stringify({ event: 'stats', encoding_error: 'bad' })).event, 'undescribed');
  });

  it('drops objects without a string event name', () => {
    assert.equal(parseEventLine('{}'), undefined);
    assert.equal(parseEventLine('{"host":"web1"}'), undefined);
    assert.equal(parseEventLine('{"event":5}'), undefined);
    assert.equal(parseEventLine('{"event":null}'), undefined);
  });
});

describe('toTaskResult', () => {
  it('turns a result event into a task result with the duration in milliseconds', () => {
    const result = toTaskResult(parsed(resultLine()));
    assert.ok(result);
    const { host, task, module, path, status, durationMs, message, diff, truncated, censored, ignored } = result;
    assert.deepEqual({ host, task, module, path, status, durationMs, message, diff, truncated, censored, ignored }, {
      host: 'web1',
      task: 'Write app config',
      module: 'ansible.builtin.copy',
      path: '/repo/playbooks/site.yml:12',
      status: 'changed',
      durationMs: 457,
      message: null,
      diff: [{ before: 'color = red\n', after: 'color = blue\n', before_header: '/etc/app.conf', after_header: null, prepared: null }],
      truncated: false,
      censored: false,
      ignored: false,
    });
  });

  it('keeps each result status', () => {
    for (const status of ['ok', 'changed', 'failed', 'skipped', 'unreachable']) {
      assert.equal(toTaskResult(parsed(resultLine({ event: status })))?.status, status);
    }
  });

  it('returns nothing for events that are not task results', () => {
    const others = [
      { event: 'playbook_start', playbook: 'site.yml' },
      { event: 'play_start', play: 'Converge' },
      { event: 'task_start', task: 'Write app config', action: 'copy', path: null, uuid: 'u1', check_mode: null },
      { event: 'stats', hosts: {} },
    ];
    for (const event of others) assert.equal(toTaskResult(parsed(JSON.stringify(event))), undefined, event.event);
  });

  it('drops the diff and the message of a censored (no_log) result', () => {
    const result = toTaskResult(parsed(resultLine({ censored: true, msg: 'token = s3cr3t', stderr: 's3cr3t' })));
    assert.ok(result);
    assert.equal(result.censored, true);
    assert.equal(result.diff, null);
    assert.equal(result.message, null);
    assert.equal(result.truncated, false);
    assert.doesNotMatch(JSON.stringify(result), /s3cr3t/);
  });

  it('records an empty diff list as no diff', () => {
    assert.equal(toTaskResult(parsed(resultLine({ diff: [] })))?.diff, null);
    assert.equal(toTaskResult(parsed(resultLine({ diff: null })))?.diff, null);
  });

  it('flags a result whose diff the plugin truncated', () => {
    const diff = [{ before: 'a', after: 'b' }, { before: 'x'.repeat(10), after: 'y', truncated: true }];
    const result = toTaskResult(parsed(resultLine({ diff })));
    assert.equal(result?.truncated, true);
    assert.deepEqual(result?.diff, diff);
  });

  it('joins the message and stderr of a failure', () => {
    const result = toTaskResult(parsed(resultLine({ event: 'failed', msg: 'non-zero return code', stderr: 'probe-broke' })));
    assert.equal(result?.message, 'non-zero return code\nprobe-broke');
  });

  it('uses the skip reason as the message of a skipped task', () => {
    const result = toTaskResult(parsed(resultLine({ event: 'skipped', skip_reason: 'Conditional result was False', diff: null })));
    assert.equal(result?.message, 'Conditional result was False');
  });

  it('keeps the ignored flag and a missing duration', () => {
    const result = toTaskResult(parsed(resultLine({ event: 'failed', ignored: true, duration: null })));
    assert.equal(result?.ignored, true);
    assert.equal(result?.durationMs, null);
  });
});

describe('toHostRecaps', () => {
  it("maps Ansible's recap per host, failures to failed and unreachable kept", () => {
    const event = parsed(
      JSON.stringify({
        event: 'stats',
        hosts: {
          web1: { ok: 5, changed: 2, failures: 1, unreachable: 0, skipped: 3, rescued: 1, ignored: 2 },
          ghost: { ok: 0, changed: 0, failures: 0, unreachable: 1, skipped: 0, rescued: 0, ignored: 0 },
        },
      }),
    );
    assert.equal(event.event, 'stats');
    const recaps = toHostRecaps(event as Extract<AnsibleEvent, { event: 'stats' }>);
    assert.deepEqual([...recaps.keys()], ['web1', 'ghost']);
    assert.deepEqual(recaps.get('web1'), { ok: 5, changed: 2, failed: 1, unreachable: 0, skipped: 3, rescued: 1, ignored: 2 });
    assert.deepEqual(recaps.get('ghost'), { ok: 0, changed: 0, failed: 0, unreachable: 1, skipped: 0, rescued: 0, ignored: 0 });
  });

  it('gives an empty map for a run without hosts', () => {
    assert.equal(toHostRecaps({ event: 'stats', hosts: {} }).size, 0);
  });
});
