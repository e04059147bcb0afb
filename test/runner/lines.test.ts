import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { forEachLine } from '../../src/runner/lines.js';

/** Writes `chunks` one by one (each its own 'data' event) into a real stream and collects the lines. */
async function linesOf(chunks: Array<string | Buffer>, maxBytes = 1024): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  const done = forEachLine(stream, maxBytes, (line) => lines.push(line));
  for (const chunk of chunks) {
    stream.write(chunk);
    // Let each chunk arrive as its own 'data' event rather than coalesced with the next.
    await new Promise((resolve) => setImmediate(resolve));
  }
  stream.end();
  await done;
  return lines;
}

describe('forEachLine', () => {
  it('calls back once per line of a chunk', async () => {
    assert.deepEqual(await linesOf(['one\ntwo\nthree\n']), ['one', 'two', 'three']);
  });

  it('joins a line split across chunks', async () => {
    assert.deepEqual(await linesOf(['{"event":', '"ok","host"', ':"web1"}\nnext', '\n']), ['{"event":"ok","host":"web1"}', 'next']);
  });

  it('delivers the last line when the stream ends without a newline', async () => {
    assert.deepEqual(await linesOf(['first\nlast', ' part']), ['first', 'last part']);
  });

  it('keeps empty lines between newlines', async () => {
    assert.deepEqual(await linesOf(['a\n\nb\n']), ['a', '', 'b']);
  });

  it('decodes a multi-byte character split across chunks', async () => {
    const bytes = Buffer.from('café ✓\n', 'utf8');
    const cut = bytes.indexOf(0xa9); // inside the two bytes of "é"
    assert.deepEqual(await linesOf([bytes.subarray(0, cut), bytes.subarray(cut)]), ['café ✓']);
  });

  it('drops an over-cap line that arrives over several chunks, and the next line still arrives', async () => {
    const long = 'x'.repeat(40);
    const lines = await linesOf(['short\n', long.slice(0, 15), long.slice(15, 30), long.slice(30), '\nafter\n'], 32);
    assert.deepEqual(lines, ['short', 'after']);
  });

  it('drops an over-cap line that arrives whole in one chunk, and the next line still arrives', async () => {
    const lines = await linesOf([`short\n${'y'.repeat(100)}\nafter\n`], 32);
    assert.deepEqual(lines, ['short', 'after']);
  });

  it('drops an over-cap line whose newline comes in the chunk that pushes it over the cap', async () => {
    const lines = await linesOf(['z'.repeat(30), `${'z'.repeat(10)}\nafter\n`], 32);
    assert.deepEqual(lines, ['after']);
  });

  it('drops an over-cap last line that has no newline', async () => {
    assert.deepEqual(await linesOf(['ok\n', 'w'.repeat(50)], 32), ['ok']);
  });

  it('keeps a line of exactly the cap', async () => {
    const exact = 'e'.repeat(32);
    assert.deepEqual(await linesOf([exact.slice(0, 20), `${exact.slice(20)}\n`], 32), [exact]);
  });

  it('tells of every dropped over-cap line, with its first bytes, whichever way it arrived', async () => {
    const stream = new PassThrough();
    const heads: string[] = [];
    const lines: string[] = [];
    const done = forEachLine(stream, 32, (line) => lines.push(line), (head) => heads.push(head.toString('utf8')));
    for (const chunk of ['a'.repeat(20), 'a'.repeat(20), `\n${'b'.repeat(40)}\nok\n`, 'c'.repeat(300)]) {
      stream.write(chunk);
      await new Promise((resolve) => setImmediate(resolve));
    }
    stream.end();
    await done;
    assert.deepEqual(lines, ['ok']);
    assert.deepEqual(heads, ['a'.repeat(40), 'b'.repeat(40), 'c'.repeat(200)]);
  });

  it('rejects when the stream fails', async () => {
    const stream = new PassThrough();
    const done = forEachLine(stream, 1024, () => undefined);
    stream.destroy(new Error('pipe broke'));
    await assert.rejects(done, /pipe broke/);
  });
});
