import { getHeapStatistics } from 'node:v8';
import type { Logger } from 'pino';
import { IdleWatch } from './idle-watch.js';

/** A node that has had no request for this long counts as idle (V8's own memory reducer waits 8 s after a full GC). */
export const IDLE_AFTER_MS = 10_000;

/**
 * Gives back the heap a burst of load left behind: one full, memory-reducing collection, as the heap profiler's
 * "collect garbage" runs it (the young generation shrunk to its minimum, emptied old-generation pages released) —
 * after the bench's warm-up 43 → 32 MB of V8 heap committed, the young generation 8 → 1 MB, for about 25 ms of CPU
 * once per idle spell. V8's own memory reducer only follows a full collection, which a node serving small requests may
 * never have had, so without this the heap stays at the size the load grew it to. Through an in-process inspector
 * session (no port is opened); a Node built without the inspector skips it. Resolves with the heap's committed bytes
 * before and after, or undefined when skipped.
 */
export async function collectIdleGarbage(): Promise<{ before: number; after: number } | undefined> {
  if (!process.features.inspector) return undefined;
  const { Session } = await import('node:inspector');
  const before = getHeapStatistics().total_heap_size;
  const session = new Session();
  session.connect();
  try {
    await new Promise<void>((resolve, reject) => session.post('HeapProfiler.collectGarbage', (err) => (err ? reject(err) : resolve())));
  } finally {
    // Not from inside the reply's callback: disconnecting there leaves the session's message loop waiting for good.
    setImmediate(() => session.disconnect());
  }
  return { before, after: getHeapStatistics().total_heap_size };
}

/**
 * The node's idle watch: the event-loop delay monitor runs while requests come (`lag`), and each idle spell starts
 * with `collectIdleGarbage`. `inFlight` reads the pipeline's requests in flight.
 */
export function watchIdle(options: { inFlight: () => number; logger: Logger; lag?: { resume(): void; pause(): void } }): IdleWatch {
  const { logger, lag } = options;
  return new IdleWatch({
    quietMs: IDLE_AFTER_MS,
    inFlight: options.inFlight,
    onBusy: () => lag?.resume(),
    onIdle: () => {
      lag?.pause();
      collectIdleGarbage().then((heap) => {
        if (heap) logger.debug({ heapMb: +(heap.before / 1048576).toFixed(1), afterMb: +(heap.after / 1048576).toFixed(1) }, 'idle: heap collected');
      }, (err: Error) => logger.warn({ err: err.message }, 'idle: heap collection failed'));
    },
  });
}
