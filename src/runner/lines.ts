import type { Readable } from 'node:stream';

/** How much of a dropped line is kept to say what it was. */
const headBytes = 200;

/**
 * Calls `onLine` for each line of a stream as it arrives. A line longer than `maxBytes` is dropped whole
 * (the callback already caps diffs; this is the guard that keeps memory flat whatever a plugin prints), and
 * `onOverlong` hears of it with the line's first bytes.
 */
export function forEachLine(
  stream: Readable,
  maxBytes: number,
  onLine: (line: string) => void,
  onOverlong: (head: Buffer) => void = () => undefined,
): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflow = false;
  let head = Buffer.alloc(0);
  const flush = (chunk: Buffer): void => {
    if (!overflow && pendingBytes + chunk.length <= maxBytes) onLine(Buffer.concat([...pending, chunk]).toString('utf8'));
    else onOverlong(overflow ? head : Buffer.concat([...pending, chunk]).subarray(0, headBytes));
    pending = [];
    pendingBytes = 0;
    overflow = false;
  };
  return new Promise((resolve, reject) => {
    stream.on('data', (data: Buffer) => {
      let start = 0;
      for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
        flush(data.subarray(start, nl));
        start = nl + 1;
      }
      const rest = data.subarray(start);
      if (rest.length === 0 || overflow) return;
      pendingBytes += rest.length;
      if (pendingBytes > maxBytes) {
        overflow = true;
        head = Buffer.concat([...pending, rest]).subarray(0, headBytes);
        pending = [];
        return;
      }
      pending.push(Buffer.from(rest));
    });
    stream.on('end', () => {
      if (pendingBytes > 0) flush(Buffer.alloc(0));
      resolve();
    });
    stream.on('error', reject);
  });
}
