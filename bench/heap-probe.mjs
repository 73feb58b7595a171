// Preloaded into a node by bench/alloc.ts (`NODE_OPTIONS=--import=…`). The first SIGUSR2 starts V8's sampling heap
// profiler (through an in-process inspector session) and counts garbage collections ('gc' performance entries, by
// kind, with their pause time); the second stops both and writes them to $HEAP_PROBE_OUT as JSON. HEAP_PROBE_INTERVAL
// is the mean sampling interval in bytes (0: GCs only, no profiler); HEAP_PROBE_SURVIVORS=1 leaves out objects that
// minor GCs collected, so the profile shows what survived a scavenge; HEAP_PROBE_LIVE=1 leaves out what major GCs
// collected too: what is still held when the window ends (what was promoted and not yet collected, or kept for good).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants } from 'node:perf_hooks';

const KINDS = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks' };
const interval = Number(process.env.HEAP_PROBE_INTERVAL ?? 8192);
let session;
let observer;
let collections;

process.on('SIGUSR2', async () => {
  if (!session) {
    session = new Session();
    session.connect();
    collections = {};
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = KINDS[entry.detail?.kind] ?? String(entry.detail?.kind);
        const c = (collections[kind] ??= { count: 0, ms: 0 });
        c.count += 1;
        c.ms += entry.duration;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    if (interval > 0) {
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMinorGC: process.env.HEAP_PROBE_SURVIVORS !== '1', includeObjectsCollectedByMajorGC: process.env.HEAP_PROBE_LIVE !== '1' });
    }
    return;
  }
  const profile = interval > 0 ? (await session.post('HeapProfiler.stopSampling')).profile : undefined;
  observer.disconnect();
  session.disconnect();
  session = undefined;
  writeFileSync(process.env.HEAP_PROBE_OUT, JSON.stringify({ collections, profile }));
});
