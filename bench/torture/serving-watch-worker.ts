/**
 * The body of `watchServing`, in a worker thread of its own: the harness's synchronous work (a `git add` of a
 * 100 MB file, a 100 MB `writeSync`) blocks the harness's event loop for seconds on a busy machine, and a
 * watch on that loop would blame the daemon for it. Here only the daemon's answers decide the silence.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sleep } from '../../test/helpers/wait.js';
import type { Watched } from './common.js';
import { epochMs, ownLoopDelay } from './loop-delay.js';

/** What `watchServing` passes: the URL, each request's limit, and the shared cell for the last answer's time. */
export type WatchOrders = { url: string; timeoutMs: number; lastAnswer: SharedArrayBuffer };

const { url, timeoutMs, lastAnswer } = workerData as WatchOrders;
const last = new BigInt64Array(lastAnswer);
const answered = (): number => Number(Atomics.load(last, 0));
const seen: Watched = { latencies: [], failures: [], longestSilenceMs: 0 };
// A late timer here (a starved thread) lengthens the silence too: its own longest stall is reported beside it.
const own = ownLoopDelay();
let running = true;
parentPort?.once('message', () => {
  running = false;
});
Atomics.store(last, 0, BigInt(Math.round(epochMs())));
parentPort?.postMessage('ready');

while (running) {
  const started = epochMs();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    if (response.status !== 200) seen.failures.push(`${response.status}`);
    const now = epochMs();
    seen.latencies.push(now - started);
    seen.longestSilenceMs = Math.max(seen.longestSilenceMs, now - answered());
    Atomics.store(last, 0, BigInt(Math.round(now)));
  } catch (error) {
    seen.failures.push((error as Error).message);
    seen.longestSilenceMs = Math.max(seen.longestSilenceMs, epochMs() - answered());
  }
  await sleep(100);
}
seen.watcherStallMs = own.takeMaxMs();
own.stop();
parentPort?.postMessage(seen);
