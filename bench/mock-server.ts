/**
 * The mock upstream as a standalone process, for benchmarks. Prints `mock listening on URL`.
 * `--chunk-ms=N`: every streamed answer sends one SSE event each N ms (a model generating), instead of all at once.
 * `--answer-bytes=N`: every answer's text is about N bytes long (for the cost of an answer's size).
 */
import { startMockUpstream } from '../test/mock/index.js';

const option = (name: string) => Number(process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3) ?? 0);
const chunkMs = option('chunk-ms');
const answerBytes = option('answer-bytes');
const mock = await startMockUpstream({ apiKey: 'test-key', recordRequests: false });
if (chunkMs > 0) mock.setDefault({ kind: 'slow', chunkDelayMs: chunkMs });
if (answerBytes > 0) mock.setDefault({ kind: 'text', text: 'The answer goes on and on, word after word. '.repeat(Math.ceil(answerBytes / 44)).slice(0, answerBytes) });
console.log(`mock listening on ${mock.url}`);
const stop = () => void mock.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
