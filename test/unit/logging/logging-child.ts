// Child process of batched-destination.test.ts: logs with the node's own logger (stderr, batched). Argument:
// "exit" — five lines, then process.exit before any flush timer could fire; "throw" — the same, then an uncaught error;
// "warn" — two lines and a warning, then the event loop blocked (no timer can fire) until the parent ends it.
import { createLogger } from '../../../src/logging/logger.js';

const logger = createLogger({ level: 'info' });
const how = process.argv[2];
if (how === 'warn') {
  logger.info({ n: 0 }, 'line before the warning');
  logger.info({ n: 1 }, 'line before the warning');
  logger.warn({ n: 2 }, 'the warning');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  process.exit(0);
}
for (let i = 0; i < 5; i++) logger.info({ n: i }, 'line before exit');
if (how === 'throw') {
  process.on('uncaughtException', () => process.exit(3));
  throw new Error('boom');
}
process.exit(0);
