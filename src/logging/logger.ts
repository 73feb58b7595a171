import pino, { type Logger } from 'pino';

/**
 * Structured JSON logs (pino). Header and field names that can carry credentials are redacted by the logger itself,
 * so a careless `log.info({ headers })` cannot leak a key; LOG_LEVEL sets the level.
 */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["api-key"]', 'req.headers["x-goog-api-key"]',
  'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', 'headers["x-goog-api-key"]',
  '*.api_key', '*.apiKey', '*.admin_key', '*.psk', '*.secret', '*.token', 'api_key', 'apiKey', 'token', 'secret',
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'meshgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
