/**
 * The mock upstream as a standalone process, for benchmarks. Prints `mock listening on URL`.
 * `--chunk-ms=N`: every streamed answer sends one SSE event each N ms (a model generating), instead of all at once.
 */
import { startMockUpstream } from '../test/mock/index.js';

const chunkMs = Number(process.argv.find((arg) => arg.startsWith('--chunk-ms='))?.slice('--chunk-ms='.length) ?? 0);
const mock = await startMockUpstream({ apiKey: 'test-key', recordRequests: false });
if (chunkMs > 0) mock.setDefault({ kind: 'slow', chunkDelayMs: chunkMs });
console.log(`mock listening on ${mock.url}`);
const stop = () => void mock.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
