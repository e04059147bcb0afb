import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration', () => {
  it('reads each unit in milliseconds', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('2h'), 7_200_000);
    assert.equal(parseDuration('1d'), 86_400_000);
    assert.equal(parseDuration('0s'), 0);
  });

  it('adds combined units written largest first', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1d2h3m4s5ms'), 93_784_005);
    assert.equal(parseDuration('1m500ms'), 60_500);
  });

  it('returns undefined for anything that is not such a duration', () => {
    for (const text of ['', 'soon', '90', '15M', '1.5h', '-5s', ' 5s', '5s ', '1h 30m', '30m1h', '1h1h', '15mm', 'ms']) {
      assert.equal(parseDuration(text), undefined, text);
    }
  });

  it('returns undefined when the total is too large to be exact', () => {
    assert.equal(parseDuration('99999999999999999999d'), undefined);
  });
});

describe('formatDuration', () => {
  it('writes the notation parseDuration reads', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(93_784_005), '1d2h3m4s5ms');
    for (const ms of [1, 999, 60_000, 2 ** 31 - 1]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });

  it('still says something for values a duration cannot be', () => {
    assert.equal(formatDuration(-1500), '-1s500ms');
    assert.equal(formatDuration(Number.POSITIVE_INFINITY), 'Infinity');
  });
});
