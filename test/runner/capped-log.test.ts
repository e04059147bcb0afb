import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CappedLog } from '../../src/runner/capped-log.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Chunk `i` of the stream: `size` bytes of text that say where they are, each line numbered. */
function chunk(i: number, size: number): Buffer {
  const line = `chunk ${String(i).padStart(6, '0')} `.padEnd(63, '.') + '\n';
  return Buffer.from(line.repeat(Math.ceil(size / 64)).slice(0, size));
}

describe('CappedLog', () => {
  const dir = tempDir('fleetcd-capped-log-');
  after(() => removeDir(dir));

  it('writes a log under the cap unchanged, with no cut line and no tail files left', async () => {
    const file = join(dir, 'small.log');
    const log = new CappedLog(file, 64 * KiB, (error) => assert.fail(error));
    const written = [chunk(0, 20 * KiB), chunk(1, 20 * KiB)];
    for (const c of written) log.write(c);
    await log.close();
    assert.equal(readFileSync(file, 'utf8'), Buffer.concat(written).toString('utf8'));
    assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('small.log.')), []);
  });

  it('keeps the head and the tail of 64 MiB through a 1 MiB cap without holding the stream in memory', async () => {
    const file = join(dir, 'big.log');
    const cap = 1 * MiB;
    const log = new CappedLog(file, cap, (error) => assert.fail(error));
    const chunks = 1024;
    const size = 64 * KiB;
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    for (let i = 0; i < chunks; i++) {
      log.write(chunk(i, size));
      // A pipe delivers chunks between turns of the event loop; so does this.
      if (i % 16 === 15) {
        await new Promise((resolve) => setImmediate(resolve));
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }
    }
    await log.close();
    assert.ok(rssPeak - rssBefore < 24 * MiB, `RSS grew ${((rssPeak - rssBefore) / MiB).toFixed(1)} MiB while 64 MiB went through`);
    const text = readFileSync(file, 'utf8');
    assert.ok(statSync(file).size <= cap, `${statSync(file).size} bytes, cap ${cap}`);
    assert.ok(text.startsWith(chunk(0, size).toString('utf8')), 'the head is the first bytes written');
    assert.ok(text.endsWith(chunk(chunks - 1, size).toString('utf8')), 'the tail is the last bytes written');
    const cut = /\n… ([\d.]+) MiB cut \(of 64\.0 MiB\) …\n/.exec(text);
    assert.ok(cut, 'one line states the cut');
    const kept = Buffer.byteLength(text) - Buffer.byteLength(cut[0]);
    assert.ok(Math.abs(Number(cut[1]) * MiB - (64 * MiB - kept)) <= 0.05 * MiB, `${cut[1]} MiB cut, ${kept} bytes kept`);
    assert.deepEqual(readdirSync(dir).filter((name) => name.startsWith('big.log.')), [], 'the tail segments are gone');
  });
});
