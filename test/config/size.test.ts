import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSize, parseSize } from '../../src/config/size.js';
import { parseConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';

const minimal = { repository: { url: '/srv/fleet-config.git' } };

function problemOf(maxLogSize: unknown): string {
  try {
    parseConfig({ ...minimal, retention: { maxLogSize } }, 'fleetcd.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error(`maxLogSize ${JSON.stringify(maxLogSize)} was accepted`);
}

describe('parseSize', () => {
  it('reads KB, MB and GB as powers of 1024', () => {
    assert.equal(parseSize('512KB'), 512 * 1024);
    assert.equal(parseSize('50MB'), 50 * 1024 ** 2);
    assert.equal(parseSize('1GB'), 1024 ** 3);
  });

  it('returns undefined for anything else', () => {
    for (const text of ['', '50 MB', '-1KB', '10XB', '50', '1.5MB', 'MB', '50mb ', ' 50MB', '5MB5KB']) assert.equal(parseSize(text), undefined, text);
  });
});

describe('formatSize', () => {
  it('writes bytes in the largest unit that keeps a whole number before the point', () => {
    assert.equal(formatSize(100), '100 B');
    assert.equal(formatSize(64 * 1024), '64.0 KiB');
    assert.equal(formatSize(123.4 * 1024 ** 2), '123.4 MiB');
    assert.equal(formatSize(3 * 1024 ** 3), '3.0 GiB');
  });
});

describe('retention.maxLogSize', () => {
  it('defaults to 50MB and takes 512KB and 1GB', () => {
    assert.equal(parseConfig(minimal, 'fleetcd.yaml').retention.maxLogBytes, 50 * 1024 ** 2);
    assert.equal(parseConfig({ ...minimal, retention: { maxLogSize: '512KB' } }, 'fleetcd.yaml').retention.maxLogBytes, 512 * 1024);
    assert.equal(parseConfig({ ...minimal, retention: { maxLogSize: '1GB' } }, 'fleetcd.yaml').retention.maxLogBytes, 1024 ** 3);
  });

  it('names the key and the value it refuses', () => {
    for (const bad of ['50 MB', '-1KB', '10XB']) {
      assert.equal(problemOf(bad), `fleetcd.yaml: retention.maxLogSize: must be a size like 512KB, 50MB or 1GB, got ${JSON.stringify(bad)}`);
    }
    assert.equal(problemOf(50), 'fleetcd.yaml: retention.maxLogSize: must be a size like 512KB, 50MB or 1GB, got 50');
    assert.match(problemOf('0KB'), /retention\.maxLogSize: must be at least 4KB, got "0KB"$/);
  });
});
