import { pino, type Logger } from 'pino';

/**
 * The daemon's logger: JSON lines on stderr (journald keeps them), or readable lines when stderr is a terminal
 * (pino-pretty, in a worker thread). Keys that could carry a secret are censored wherever they appear, as a
 * second line of defence: secrets are never put into log calls.
 */
export function createLogger(level: string = process.env.FLEETCD_LOG_LEVEL ?? 'info'): Logger {
  const options = {
    level,
    base: { app: 'fleetcd' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['token', 'password', 'secret', '*.token', '*.password', '*.secret', 'headers.authorization'],
      censor: '[redacted]',
    },
  };
  if (process.stderr.isTTY && !process.env.FLEETCD_LOG_JSON) {
    return pino(options, pino.transport({ target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss', ignore: 'app,pid,hostname' } }));
  }
  return pino(options, pino.destination({ fd: 2, sync: false }));
}

/**
 * Writes what the logger still buffers, now: a process about to exit (crash.ts) must not lose its last line,
 * the one that says why. A logger whose stream cannot flush synchronously is left as it is.
 */
export function flushLogSync(log: Logger): void {
  const stream = (log as unknown as Record<symbol, { flushSync?: () => void } | undefined>)[pino.symbols.streamSym];
  try {
    stream?.flushSync?.();
  } catch {
    // Not ready or already closed: nothing more can be done on the way out.
  }
}

export type { Logger };
