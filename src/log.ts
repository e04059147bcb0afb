import { pino, type Logger } from 'pino';

/**
 * The daemon's logger: JSON lines on stderr (journald keeps them). Keys that could carry a secret are
 * censored wherever they appear, as a second line of defence: secrets are never put into log calls.
 */
export function createLogger(level: string = process.env.FLEETCD_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      level,
      base: { app: 'fleetcd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['token', 'password', 'secret', '*.token', '*.password', '*.secret', 'headers.authorization'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}

export type { Logger };
