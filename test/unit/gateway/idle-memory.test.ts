import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { heapCollectionAvailable, logReclaimed, mallocTrimAvailable, reclaimIdleHeap, reclaimIdleMemory } from '../../../src/gateway/idle-memory.js';
import { C_COMPILER, describeWithSystemComponent } from '../../helpers/system-component.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NATIVE = `${ROOT}native/malloc-trim.node`;

/**
 * A child node fills malloc's heap with 48 KB buffers between small ones it keeps, frees the large ones (V8 collects
 * them), then calls the native trim: glibc's free() leaves the holes resident, malloc_trim(0) gives their pages back.
 */
const FRAGMENT = `
const { trim } = require(process.argv[1]);
const rss = () => process.memoryUsage.rss() / 1048576;
const start = rss();
let junk = [];
const keep = [];
for (let i = 0; i < 3000; i++) {
  junk.push(Buffer.allocUnsafeSlow(48 * 1024).fill(1));
  keep.push(Buffer.allocUnsafeSlow(2048).fill(2));
}
const filled = rss();
junk = null;
globalThis.gc();
setTimeout(() => {
  globalThis.gc();
  const freed = rss();
  const trimmed = trim();
  console.log(JSON.stringify({ start, filled, freed, trimmed, after: rss(), kept: keep.length }));
}, 200);
`;

describeWithSystemComponent(C_COMPILER, 'giving free malloc pages back at idle (the native step)', (cc) => {
  let built = '';
  beforeAll(async () => {
    // npm install builds it (postinstall); build it here too if this checkout's install predates it.
    built = (await run(process.execPath, [`${ROOT}native/build.mjs`], { env: { ...process.env, CC: cc } })).stdout.trim();
  }, 60_000);

  it('is built with the C compiler and loads in this node', () => {
    expect(mallocTrimAvailable(), `native/build.mjs said: ${built}`).toBe(true);
    const reclaimed = reclaimIdleMemory();
    expect(reclaimed.rssAfter).toBeGreaterThan(0);
    expect(typeof reclaimed.trimmed).toBe('boolean');
  });

  it('gives back the pages of freed buffers that free() alone leaves resident', async () => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '-e', FRAGMENT, NATIVE], { env: { PATH: process.env.PATH ?? '' } });
    const m = JSON.parse(stdout) as { start: number; filled: number; freed: number; trimmed: boolean; after: number; kept: number };
    const grown = m.filled - m.start;
    expect(grown, stdout).toBeGreaterThan(100); // 3,000 × 48 KB written
    expect(m.freed - m.start, stdout).toBeGreaterThan(grown * 0.7); // free() kept the holes resident
    expect(m.trimmed, stdout).toBe(true);
    expect(m.after - m.start, stdout).toBeLessThan(grown * 0.4); // the trim gave them back
  }, 60_000);
});

it('logs what a reclaim gave back at debug, and a failure as a warning', () => {
  const lines: Array<[string, object, string]> = [];
  const log = logReclaimed({ debug: (o, m) => lines.push(['debug', o, m]), warn: (o, m) => lines.push(['warn', o, m]) });
  log({ rssBefore: 150 * 1048576, rssAfter: 110 * 1048576, trimmed: true, httpParsers: 12 });
  log(new Error('boom'));
  expect(lines).toEqual([
    ['debug', { rssMb: 150, rssAfterMb: 110, trimmed: true, httpParsers: 12 }, 'idle: memory reclaimed'],
    ['warn', { err: 'boom' }, 'idle: memory reclaim failed'],
  ]);
});

/**
 * A child node started as `meshgate start` starts (bin/entry.js: `--expose-gc`, marked as the node's own) makes ~100
 * MB of small objects, keeps them long enough to be promoted, drops them — nothing collects them while nothing
 * allocates (an idle node) — and asks for the heap step.
 */
const COLLECT = `
const { heapCollectionAvailable, reclaimIdleHeap } = await import(process.argv[1]);
const globalGc = typeof globalThis.gc;
let garbage = [];
for (let i = 0; i < 1_500_000; i++) garbage.push({ n: i, s: 'item ' + i });
garbage = null;
const { heap } = reclaimIdleHeap();
console.log(JSON.stringify({ available: heapCollectionAvailable(), globalGc, heap }));
`;
const IDLE_MEMORY = fileURLToPath(new URL('../../../src/gateway/idle-memory.ts', import.meta.url));

it("collects the heap of a process started with --expose-gc, its own gc taken off the global (a user's own left there); without the flag, malloc's pages only", async () => {
  const child = async (env: Record<string, string>) => {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', COLLECT, IDLE_MEMORY], { env: { ...process.env, ...env }, cwd: ROOT });
    return JSON.parse(stdout) as { available: boolean; globalGc: string; heap?: { before: number; after: number; ms: number } };
  };
  const ours = await child({ MESHGATE_EXPOSED_GC: '1' });
  expect(ours.available).toBe(true);
  expect(ours.globalGc).toBe('undefined'); // no other code sees the node's gc
  expect(ours.heap!.before - ours.heap!.after, JSON.stringify(ours.heap)).toBeGreaterThan(50 * 1048576);
  expect(ours.heap!.ms).toBeGreaterThan(0);
  const users = await child({ MESHGATE_EXPOSED_GC: '' });
  expect(users.globalGc).toBe('function'); // the user's own --expose-gc: their global stays
  expect(users.heap).toBeDefined();
  // This test process has no --expose-gc: the step gives malloc's pages back and sets no flag of V8's at run time.
  expect(heapCollectionAvailable()).toBe(false);
  const plain = reclaimIdleHeap();
  expect(plain.heap).toBeUndefined();
  expect(runInNewContext('typeof gc')).toBe('undefined');
}, 60_000);

it("logs a heap collection with the heap's sizes and the time it took", () => {
  const lines: Array<[string, object, string]> = [];
  const log = logReclaimed({ debug: (o, m) => lines.push(['debug', o, m]), warn: (o, m) => lines.push(['warn', o, m]) });
  log({ rssBefore: 200 * 1048576, rssAfter: 105 * 1048576, trimmed: true, httpParsers: 0, heap: { before: 98 * 1048576, after: 32 * 1048576, ms: 151.6 } });
  expect(lines).toEqual([['debug', { rssMb: 200, rssAfterMb: 105, heapMb: 98, heapAfterMb: 32, gcMs: 152, trimmed: true, httpParsers: 0 }, 'idle: heap collected']]);
});

it("lets go of node:http's idle parsers (kept for connections to come, ~10 KB of native memory each), and serves new connections after", async () => {
  const parsers = (process.getBuiltinModule('_http_common') as { parsers: { list: unknown[] } }).parsers;
  const server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const request = () => new Promise<Socket>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    let got = '';
    socket.on('data', (data) => (got += data) && /\r\n\r\nok$/.test(got) && resolve(socket));
    socket.on('error', reject);
  });
  try {
    const before = parsers.list.length;
    const sockets = await Promise.all(Array.from({ length: 40 }, request)); // 40 connections at once: 40 parsers
    for (const socket of sockets) socket.destroy();
    // The 40 took the list's parsers first, if it had any: it holds at least 40 once they closed.
    await expect.poll(() => parsers.list.length, { timeout: 5_000, interval: 20 }).toBeGreaterThanOrEqual(Math.max(before, 40));
    const result = reclaimIdleMemory();
    expect(result.httpParsers).toBeGreaterThanOrEqual(40);
    expect(parsers.list).toHaveLength(0);
    (await request()).destroy(); // a parser is made again for a new connection
    await expect.poll(() => parsers.list.length, { timeout: 5_000, interval: 20 }).toBe(1);
    expect(reclaimIdleHeap().httpParsers).toBe(1); // the heap step lets go of them too, before its collection
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
