// Structured logs: one JSON line per event on stdout (pino), ISO times, never a secret. Written
// synchronously: pino's default asynchronous stream can reorder or cut the last lines at exit.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tipd' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Belt and braces: these never belong in a log line, whoever passes them.
      redact: {
        paths: ['token', 'adminToken', 'macaroon', 'cert', 'preimage', '*.token', '*.macaroon', '*.cert', '*.preimage', 'req.headers.authorization'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
