/** The mock upstream as a standalone process, for benchmarks. Prints `mock listening on URL`. */
import { startMockUpstream } from '../test/mock/index.js';

const mock = await startMockUpstream({ apiKey: 'test-key' });
console.log(`mock listening on ${mock.url}`);
const stop = () => void mock.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
