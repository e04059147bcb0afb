import { createReadStream, createWriteStream, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { formatSize } from '../config/size.js';

/** Room left beside head and tail for the line saying what was cut. */
const cutLineRoom = 256;

type Segment = { file: string; stream: WriteStream; bytes: number };

/**
 * A run's log with a size cap, written as a stream. The first half of the cap goes straight to the log file
 * (a follower of the live log reads it as it grows); what comes after goes to two rotating tail segments
 * beside it, so at most the last quarter-to-half of the cap is kept and nothing is held in memory. At the end
 * the tail is appended after a line saying how much was cut. The file only ever grows, so offsets a follower
 * was given stay valid. A log that stays under the cap is written unchanged.
 */
export class CappedLog {
  private readonly head: WriteStream;
  private readonly headLimit: number;
  private readonly segmentLimit: number;
  private headBytes = 0;
  private total = 0;
  private segments: Segment[] = [];
  private dropped = 0;
  private serial = 0;
  private failed = false;

  constructor(
    private readonly file: string,
    capBytes: number,
    private readonly onError: (error: Error) => void,
  ) {
    this.headLimit = Math.floor(capBytes / 2);
    this.segmentLimit = Math.max(1, Math.floor((capBytes - this.headLimit - cutLineRoom) / 2));
    this.head = this.watch(createWriteStream(file, { flags: 'a', mode: 0o640 }));
  }

  /** Writes a chunk of output (the chunk is not copied: the caller must not reuse it). */
  write(chunk: Buffer): void {
    if (this.failed) return;
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.headLimit) {
      const take = Math.min(rest.length, this.headLimit - this.headBytes);
      this.head.write(rest.subarray(0, take));
      this.headBytes += take;
      rest = rest.subarray(take);
    }
    while (rest.length > 0) {
      const segment = this.segmentWithRoom();
      const take = Math.min(rest.length, this.segmentLimit - segment.bytes);
      segment.stream.write(rest.subarray(0, take));
      segment.bytes += take;
      rest = rest.subarray(take);
    }
  }

  /** Appends the cut line and the tail, and closes everything. Never rejects: a failure went to `onError`. */
  async close(): Promise<void> {
    try {
      await Promise.all(this.segments.map((segment) => ended(segment.stream)));
      if (!this.failed && this.segments.length > 0) {
        if (this.dropped > 0) this.head.write(`\n… ${formatSize(this.dropped)} cut (of ${formatSize(this.total)}) …\n`);
        for (const segment of this.segments) await pipeline(createReadStream(segment.file), this.head, { end: false });
      }
    } catch (error) {
      this.fail(error as Error);
    } finally {
      for (const segment of this.segments) rmSync(segment.file, { force: true });
      await ended(this.head).catch(() => undefined);
    }
  }

  /** The newest segment, or a new one when it is full; the oldest of three is dropped (its bytes are cut). */
  private segmentWithRoom(): Segment {
    const newest = this.segments.at(-1);
    if (newest && newest.bytes < this.segmentLimit) return newest;
    newest?.stream.end();
    if (this.segments.length === 2) {
      const oldest = this.segments.shift()!;
      this.dropped += oldest.bytes;
      // Removed once its stream has closed, so no late write lands in a file nobody reads.
      void ended(oldest.stream).finally(() => rmSync(oldest.file, { force: true }));
    }
    const file = `${this.file}.tail-${this.serial++}`;
    const segment = { file, stream: this.watch(createWriteStream(file, { flags: 'w', mode: 0o640 })), bytes: 0 };
    this.segments.push(segment);
    return segment;
  }

  private watch(stream: WriteStream): WriteStream {
    stream.on('error', (error) => this.fail(error));
    return stream;
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.onError(error);
  }
}

/** Ends a stream (if not yet) and resolves once its file is closed, or at once if it failed. */
async function ended(stream: WriteStream): Promise<void> {
  if (stream.closed || stream.destroyed) return;
  if (!stream.writableEnded) stream.end();
  await once(stream, 'close');
}
