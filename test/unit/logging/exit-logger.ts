// Child process of batched-destination.test.ts: logs with the node's own logger (stderr, batched) and exits at once,
// before any flush timer could fire. Argument: how to leave — "exit" (process.exit) or "throw" (an uncaught error).
import { createLogger } from '../../../src/logging/logger.js';

const logger = createLogger({ level: 'info' });
for (let i = 0; i < 5; i++) logger.info({ n: i }, 'line before exit');
if (process.argv[2] === 'throw') {
  process.on('uncaughtException', () => process.exit(3));
  throw new Error('boom');
}
process.exit(0);
