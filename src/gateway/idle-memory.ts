import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** What one reclaim gave back, for the node's debug log. */
export interface Reclaimed {
  /** Resident memory before and after, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /** Whether the C library gave pages back (false too when the native step is not built: see `mallocTrimAvailable`). */
  trimmed: boolean;
  /** node:http's idle HTTP parsers let go of (`releaseIdleHttpParsers`). */
  httpParsers: number;
  /** For a collection of V8's heap (`reclaimIdleHeap`): its committed size before and after, in bytes, and how long it took. */
  heap?: { before: number; after: number; ms: number };
}

/** The native step's module (native/malloc-trim.node, built at install by native/build.mjs), if built. */
const NATIVE = fileURLToPath(new URL('../../native/malloc-trim.node', import.meta.url));
let native: { trim(): boolean } | null | undefined;

function nativeTrim(): { trim(): boolean } | null {
  if (native === undefined) {
    try {
      native = existsSync(NATIVE) ? (createRequire(import.meta.url)(NATIVE) as { trim(): boolean }) : null;
    } catch {
      native = null; // built for another platform or C library: the step is skipped
    }
  }
  return native;
}

/** Whether this node can give free malloc pages back (the native step is built and loads here). */
export function mallocTrimAvailable(): boolean {
  return nativeTrim() !== null;
}

/** node:http's free list of HTTP parsers (`_http_common`'s `parsers`, a `FreeList`), if it has the shape this code knows. */
interface ParserFreeList {
  list: unknown[];
  alloc(): { close?: unknown };
}

function httpParserFreeList(): ParserFreeList | undefined {
  const common = process.getBuiltinModule('_http_common') as { parsers?: Partial<ParserFreeList> } | undefined;
  const parsers = common?.parsers;
  return parsers && Array.isArray(parsers.list) && typeof parsers.alloc === 'function' ? (parsers as ParserFreeList) : undefined;
}

/**
 * Lets go of the HTTP parsers node:http keeps for connections to come. Each connection takes a parser from a free
 * list and gives it back when it closes; the list keeps up to 1,000, and each holds ~10 KB of native memory that only
 * its `close()` frees (heaptrack: 10.1 MB "leaked" from `http_parser::Parser::New` over 1,000 calls) — so after a
 * burst of 1,000 concurrent connections an idle node kept ~10 MB it no longer used (README "Benchmarks", idle
 * memory). The parsers in the list are not in use; a new connection makes a parser again (a few µs). Returns how many
 * were let go (0 if node:http's internals are not what this code expects: then nothing is touched).
 */
export function releaseIdleHttpParsers(): number {
  const parsers = httpParserFreeList();
  let released = 0;
  // Only while the list's last is a parser to close: alloc() takes that one (never a new one while the list has any).
  while (parsers && typeof (parsers.list.at(-1) as { close?: unknown } | undefined)?.close === 'function') {
    (parsers.alloc().close as () => void)();
    released += 1;
  }
  return released;
}

/**
 * Gives back the memory a burst of load left in malloc's heaps, once a node has gone idle: glibc's `malloc_trim(0)`
 * (native/malloc-trim.c). Under load the heaps fill with free chunks between live ones (request and socket buffers,
 * the compilers' zones); glibc returns only a heap's top by itself, so an idle node kept them resident. It runs in
 * the node's own process, so only a node that owns its process does this (`meshgate start` and its workers), not a
 * gateway embedded in another program. A few ms of one core once per idle spell; measured (README "Benchmarks", idle
 * memory) 25–55 MB less resident after the 32-connection load, CPU per request under the next load unchanged.
 *
 * V8's heap is not collected here: see `reclaimIdleHeap`, which runs only after a longer quiet spell.
 */
export function reclaimIdleMemory(): Reclaimed {
  const rssBefore = process.memoryUsage.rss();
  const httpParsers = releaseIdleHttpParsers();
  const trimmed = trimMalloc();
  return { rssBefore, rssAfter: process.memoryUsage.rss(), trimmed, httpParsers };
}

/** glibc's `malloc_trim(0)` through the native step; false when it is not built or gave nothing back. */
function trimMalloc(): boolean {
  const trim = nativeTrim();
  return trim ? trim.trim() : false;
}

/** V8's `gc()`, as `--expose-gc` gives it. */
type FullCollection = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * The node's `gc()`, if its process was started with `--expose-gc`: `meshgate start` is (bin/entry.js re-executes it
 * with the flag and marks it as the node's own with MESHGATE_EXPOSED_GC, and its workers inherit both), and this
 * module takes that `gc` off the global as it loads, so no other code sees it; a user's own `--expose-gc` (no mark)
 * leaves their global where it is. The flag is not set at run time: `v8.setFlagsFromString('--expose-gc')` around a
 * new context, as before, cost the load after the collection about 50% more CPU per request for a minute, where the
 * same collection through a `gc` given at start cost ~10% in its first rounds (README "Benchmarks", idle memory).
 */
const fullCollection: FullCollection | undefined = (() => {
  const global = globalThis as { gc?: unknown };
  const exposed = global.gc;
  if (typeof exposed !== 'function') return undefined;
  if (process.env.MESHGATE_EXPOSED_GC === '1') global.gc = undefined; // V8 defines it writable but not deletable
  return exposed as FullCollection;
})();

/** Whether this process can collect its heap at idle (started with `--expose-gc`: see `fullCollection`). */
export function heapCollectionAvailable(): boolean {
  return fullCollection !== undefined;
}

/**
 * Gives back what a node holds from its last spell of load once it has been quiet for long (`server.
 * idle_heap_reclaim_seconds`), in a process started with `--expose-gc` (`heapCollectionAvailable`; otherwise malloc's
 * pages only): one "last resort" collection of V8's whole heap — the collections V8 makes when memory
 * runs out, which also compact the old generation and return its free pages — then malloc's free pages as
 * `reclaimIdleMemory` does.
 *
 * Why only after a long spell (README "Benchmarks", idle memory): under load the old generation fills with what
 * outlived two scavenges, and V8 collects it rarely (the heap's limit grows with the load), so an idle node keeps it
 * — 190–208 MB resident after three 14-second spells of the 32-connection load, against 104–107 MB with this
 * collection. Its own cost is one pass over the heap (~100–200 ms of one core). The dearer part comes after: the
 * collection frees what the load's connections left (HTTP parsers, sockets), and V8 throws away the optimised code
 * that had those objects built in (`--trace-deopt`: "embedded weak objects cleared", ~50 functions), so the next load
 * runs more CPU per request while that code is compiled again: with `gc` given at start, ~25% more in its first
 * 3-second rounds and alike after ~20 s (the earlier 20–40% for tens of seconds was measured with the flag set at run
 * time, see `fullCollection`). After a minute without a request that is a small price; at every short pause (as at
 * 10 s) it was not.
 */
export function reclaimIdleHeap(): Reclaimed {
  if (!fullCollection) return reclaimIdleMemory(); // not started with --expose-gc: malloc's pages only
  const rssBefore = process.memoryUsage.rss();
  const before = process.memoryUsage().heapTotal;
  const httpParsers = releaseIdleHttpParsers(); // before the collection, which then takes their JS objects too
  const start = performance.now();
  fullCollection({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  const ms = performance.now() - start;
  const after = process.memoryUsage().heapTotal;
  const trimmed = trimMalloc(); // what the collection and the parsers freed
  return { rssBefore, rssAfter: process.memoryUsage.rss(), trimmed, httpParsers, heap: { before, after, ms } };
}

/** The node's log line for each reclaim: debug when it ran (sizes in MB), a warning when it failed. */
export function logReclaimed(logger: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void }): (result: Reclaimed | Error) => void {
  const mb = (bytes: number) => +(bytes / 1048576).toFixed(1);
  return (result) => {
    if (result instanceof Error) logger.warn({ err: result.message }, 'idle: memory reclaim failed');
    else if (result.heap) {
      const { before, after, ms } = result.heap;
      logger.debug({ rssMb: mb(result.rssBefore), rssAfterMb: mb(result.rssAfter), heapMb: mb(before), heapAfterMb: mb(after), gcMs: Math.round(ms), trimmed: result.trimmed, httpParsers: result.httpParsers }, 'idle: heap collected');
    } else logger.debug({ rssMb: mb(result.rssBefore), rssAfterMb: mb(result.rssAfter), trimmed: result.trimmed, httpParsers: result.httpParsers }, 'idle: memory reclaimed');
  };
}
