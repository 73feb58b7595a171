import pino, { type Logger } from 'pino';
import { BatchedDestination } from './batched-destination.js';

/**
 * Structured JSON logs (pino). Header and field names that can carry credentials are redacted by the logger itself,
 * so a careless `log.info({ headers })` cannot leak a key; LOG_LEVEL sets the level.
 */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["api-key"]', 'req.headers["x-goog-api-key"]',
  'headers.authorization', 'headers["x-api-key"]', 'headers["api-key"]', 'headers["x-goog-api-key"]',
  '*.api_key', '*.apiKey', '*.admin_key', '*.psk', '*.secret', '*.token', 'api_key', 'apiKey', 'token', 'secret',
];

/** A URL with the value of any `key` query parameter replaced (Gemini REST clients send their key there). */
export function redactQueryKey(url: string): string {
  return url.replace(/([?&]key=)[^&#]*/gi, '$1[redacted]');
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * fastify's request serializer (method, url, host, address), with the URL's `key` parameter redacted. The HTTP layer
 * already takes `?key=` off the URL before routing; this holds for any request object logged anywhere else too.
 */
function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: typeof req.url === 'string' ? redactQueryKey(req.url) : req.url,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * pino's `isoTime` field (`,"time":"2026-12-01T18:05:53.123Z"`), the same text made without a Date and its
 * formatting per line: the part up to the second is made once a second, the milliseconds appended.
 */
export function isoTimeField(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== isoSecond.second) {
    isoSecond.second = second;
    isoSecond.prefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
  }
  const ms = now - second * 1000;
  return `${isoSecond.prefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}
const isoSecond = { second: Number.NaN, prefix: '' };

/** pino's level number for `warn`: lines at this level and above are written at once, not batched. */
const WARN = 40;

/**
 * The node's logger. Without a `destination`, lines go to stderr in batches (see BatchedDestination): a line waits at
 * most 50 ms, a warning or an error is written at once, and nothing pending is lost when the process exits.
 */
export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const batched = options.destination ? undefined : BatchedDestination.forFd(2);
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { service: 'meshgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: { req: serializeRequest },
      timestamp: () => isoTimeField(),
      ...(batched
        ? {
          hooks: {
            logMethod(this: Logger, args: Parameters<pino.LogFn>, method: pino.LogFn, level: number) {
              method.apply(this, args);
              if (level >= WARN) batched.flush();
            },
          },
        }
        : {}),
    },
    options.destination ?? batched,
  );
}
