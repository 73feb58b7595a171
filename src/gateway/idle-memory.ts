import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What one reclaim gave back, for the node's debug log. */
export interface Reclaimed {
  /** Resident memory before and after, in bytes. */
  rssBefore: number;
  rssAfter: number;
  /** Whether the C library gave pages back (false too when the native step is not built: see `mallocTrimAvailable`). */
  trimmed: boolean;
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

/**
 * Gives back the memory a burst of load left in malloc's heaps, once a node has gone idle: glibc's `malloc_trim(0)`
 * (native/malloc-trim.c). Under load the heaps fill with free chunks between live ones (request and socket buffers,
 * the compilers' zones); glibc returns only a heap's top by itself, so an idle node kept them resident. It runs in
 * the node's own process, so only a node that owns its process does this (`meshgate start` and its workers), not a
 * gateway embedded in another program. A few ms of one core once per idle spell; measured (README "Benchmarks", idle
 * memory) 25–55 MB less resident after the 32-connection load, CPU per request under the next load unchanged.
 *
 * Not done, measured: a full collection of V8's heap as well (through `gc()` with `--expose-gc`, either flavour, or
 * the inspector's) — it gave back another ~30 MB, but the node then spent 18–41% more CPU per request under the
 * load that followed, in every run (bench/ab.ts, and builds side by side with the collection on and off).
 */
export function reclaimIdleMemory(): Reclaimed {
  const rssBefore = process.memoryUsage.rss();
  const trim = nativeTrim();
  const trimmed = trim ? trim.trim() : false;
  return { rssBefore, rssAfter: process.memoryUsage.rss(), trimmed };
}

/** The node's log line for each reclaim: debug when it ran (sizes in MB), a warning when it failed. */
export function logReclaimed(logger: { debug(obj: object, msg: string): void; warn(obj: object, msg: string): void }): (result: Reclaimed | Error) => void {
  const mb = (bytes: number) => +(bytes / 1048576).toFixed(1);
  return (result) => {
    if (result instanceof Error) logger.warn({ err: result.message }, 'idle: memory reclaim failed');
    else logger.debug({ rssMb: mb(result.rssBefore), rssAfterMb: mb(result.rssAfter), trimmed: result.trimmed }, 'idle: memory reclaimed');
  };
}
