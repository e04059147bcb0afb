/**
 * The longest event-loop block, on both sides of a scenario: the daemon's as it measures it itself (prom-client's
 * `nodejs_eventloop_lag_max_seconds`, a `monitorEventLoopDelay` histogram reset at each scrape), and the
 * harness's own. A `/healthz` silence seen by the harness is the daemon's only if the harness was not the one
 * stuck: a synchronous `git add` of a 100 MB file in the harness looks exactly like a daemon that stopped answering.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { RunningDaemon } from '../../test/helpers/running-daemon.js';

/** Wall-clock ms, comparable between threads (each thread's performance.now() has its own origin). */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** The daemon's longest event-loop delay since its previous scrape, in ms (this scrape starts a new window). */
export async function daemonLoopMaxMs(d: RunningDaemon): Promise<number> {
  const response = await fetch(`${d.base}/metrics`);
  const text = await response.text();
  const line = /^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
  if (!line) throw new Error(`GET /metrics: no nodejs_eventloop_lag_max_seconds in ${text.length} bytes`);
  return Number(line[1]) * 1000;
}

/** The calling thread's longest event-loop delay, read window by window. */
export function ownLoopDelay(): { takeMaxMs(): number; stop(): void } {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return {
    takeMaxMs() {
      const max = histogram.max / 1e6;
      histogram.reset();
      return max;
    },
    stop: () => histogram.disable(),
  };
}
