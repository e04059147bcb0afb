import type { Readable } from 'node:stream';

/**
 * Calls `onLine` for each line of a stream as it arrives. A line longer than `maxBytes` is dropped whole
 * (the callback already caps diffs; this is the guard that keeps memory flat whatever a plugin prints).
 */
export function forEachLine(stream: Readable, maxBytes: number, onLine: (line: string) => void): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let overflow = false;
  const flush = (chunk: Buffer): void => {
    if (!overflow && pendingBytes + chunk.length <= maxBytes) onLine(Buffer.concat([...pending, chunk]).toString('utf8'));
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
        pending = [];
        return;
      }
      pending.push(Buffer.from(rest));
    });
    stream.on('end', () => {
      if (pendingBytes > 0 && !overflow) flush(Buffer.alloc(0));
      resolve();
    });
    stream.on('error', reject);
  });
}
