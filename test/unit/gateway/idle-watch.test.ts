import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDLE_LATEST_MS, IdleWatch, longIdleLatestMs, watchIdle } from '../../../src/gateway/idle-watch.js';
import { reclaimIdleMemory } from '../../../src/gateway/idle-memory.js';

describe('IdleWatch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const watch = (inFlight = () => 0) => {
    const events: string[] = [];
    const w = new IdleWatch({ quietMs: 1_000, inFlight, onBusy: () => events.push('busy'), onIdle: () => events.push('idle') });
    return { w, events };
  };

  it('starts busy (start-up is work) and goes idle after the quiet time, leaving no timer to wake an idle process', () => {
    const { w, events } = watch();
    expect(w.idle).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle']);
    expect(w.idle).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stays busy while requests keep arriving, and goes idle within a quarter quiet time after one quiet time since the last', () => {
    const { w, events } = watch();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(900);
      w.served();
    }
    expect(events).toEqual(['busy']);
    vi.advanceTimersByTime(999);
    expect(events).toEqual(['busy']); // not yet one quiet time since the last request
    vi.advanceTimersByTime(251);
    expect(events).toEqual(['busy', 'idle']);
  });

  it('stays busy while a request is in flight (a long stream), however long ago it arrived', () => {
    let inFlight = 1;
    const { events } = watch(() => inFlight);
    vi.advanceTimersByTime(5_000);
    expect(events).toEqual(['busy']);
    inFlight = 0;
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle']);
  });

  it('calls the busy hook once for the first request of an idle spell, then goes idle again', () => {
    const { w, events } = watch();
    vi.advanceTimersByTime(1_000);
    w.served();
    w.served();
    expect(events).toEqual(['busy', 'idle', 'busy']);
    expect(w.idle).toBe(false);
    vi.advanceTimersByTime(999); // the second request came after the spell's first look was armed
    expect(events).toEqual(['busy', 'idle', 'busy']);
    vi.advanceTimersByTime(251);
    expect(events).toEqual(['busy', 'idle', 'busy', 'idle']);
  });

  it('runs the long-idle step once per spell that lasts its time, counted from the last request', () => {
    const events: string[] = [];
    const w = new IdleWatch({ quietMs: 1_000, inFlight: () => 0, onBusy: () => events.push('busy'), onIdle: () => events.push('idle'), longIdle: { afterMs: 5_000, run: () => events.push('long') } });
    vi.advanceTimersByTime(1_000);
    expect(events).toEqual(['busy', 'idle']);
    vi.advanceTimersByTime(3_999);
    expect(events).toEqual(['busy', 'idle']);
    vi.advanceTimersByTime(1);
    expect(events).toEqual(['busy', 'idle', 'long']);
    expect(vi.getTimerCount()).toBe(0); // nothing more wakes the idle process
    vi.advanceTimersByTime(60_000);
    expect(events).toEqual(['busy', 'idle', 'long']);
    w.served(); // a new spell: the step comes again after it
    vi.advanceTimersByTime(1_250 + 4_000);
    expect(events).toEqual(['busy', 'idle', 'long', 'busy', 'idle', 'long']);
  });

  it('does not run the long-idle step for a spell a request ends first, nor after close', () => {
    const events: string[] = [];
    const w = new IdleWatch({ quietMs: 1_000, inFlight: () => 0, onBusy: () => events.push('busy'), onIdle: () => events.push('idle'), longIdle: { afterMs: 5_000, run: () => events.push('long') } });
    vi.advanceTimersByTime(3_000);
    w.served(); // at 3 s: the spell that began at 1 s ends before its step (due at 5 s)
    vi.advanceTimersByTime(2_000);
    expect(events).toEqual(['busy', 'idle', 'busy', 'idle']); // idle again at 4 s, no step at 5 s
    vi.advanceTimersByTime(2_999);
    expect(events).toEqual(['busy', 'idle', 'busy', 'idle']);
    w.close(); // before the new spell's step (due at 8 s)
    vi.advanceTimersByTime(60_000);
    expect(events).toEqual(['busy', 'idle', 'busy', 'idle']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does nothing more once closed', () => {
    const { w, events } = watch();
    w.close();
    vi.advanceTimersByTime(5_000);
    w.served();
    expect(events).toEqual(['busy']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('watchIdle', () => {
  beforeEach(() => vi.useFakeTimers());
  /** The heap step as the watch runs it: this test process has no `gc` (no --expose-gc), so the collection is only
   * followed here — what it gives back is test/unit/gateway/idle-memory.test.ts's and the CLI test's. */
  const collectHeap = () => ({ ...reclaimIdleMemory(), heap: { before: 2, after: 1, ms: 1 } });
  afterEach(() => vi.useRealTimers());

  it('reclaims memory once at the start of each idle spell when asked to', () => {
    const results: unknown[] = [];
    const asked = watchIdle({ inFlight: () => 0, reclaim: (r) => results.push(r) });
    vi.advanceTimersByTime(IDLE_LATEST_MS);
    expect(asked.idle).toBe(true);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ rssBefore: expect.any(Number), rssAfter: expect.any(Number), trimmed: expect.any(Boolean) });
    vi.advanceTimersByTime(IDLE_LATEST_MS * 3);
    expect(results).toHaveLength(1); // an idle node is not woken to do it again
    asked.served();
    vi.advanceTimersByTime(IDLE_LATEST_MS);
    expect(results).toHaveLength(2);
    asked.close();
  });

  it('collects the V8 heap too once a spell lasts heapReclaimAfterMs, reporting what it gave back', () => {
    const results: Array<{ heap?: { before: number; after: number; ms: number } }> = [];
    const asked = watchIdle({ inFlight: () => 0, reclaim: (r) => results.push(r as (typeof results)[number]), heapReclaimAfterMs: 30_000, collectHeap });
    asked.served(); // a node that has served: its first spell waits as any other
    vi.advanceTimersByTime(IDLE_LATEST_MS);
    expect(results).toHaveLength(1);
    expect(results[0]!.heap).toBeUndefined(); // malloc's pages only, at the start of the spell
    vi.advanceTimersByTime(longIdleLatestMs(30_000) - IDLE_LATEST_MS);
    expect(results).toHaveLength(2);
    expect(results[1]!.heap).toMatchObject({ before: expect.any(Number), after: expect.any(Number), ms: expect.any(Number) });
    expect(vi.getTimerCount()).toBe(0);
    asked.close();
  });

  it('collects what start-up left at the start of the first idle spell when nothing was served, and not again until requests came', () => {
    const results: Array<{ heap?: object }> = [];
    const asked = watchIdle({ inFlight: () => 0, reclaim: (r) => results.push(r as (typeof results)[number]), heapReclaimAfterMs: 30_000, collectHeap });
    vi.advanceTimersByTime(IDLE_LATEST_MS);
    expect(results).toHaveLength(1);
    expect(results[0]!.heap).toMatchObject({ before: expect.any(Number), after: expect.any(Number) }); // at once, not after 30 s
    vi.advanceTimersByTime(longIdleLatestMs(30_000));
    expect(results).toHaveLength(1); // the spell's long-idle step: nothing served since, nothing to collect
    expect(vi.getTimerCount()).toBe(0);
    asked.served();
    vi.advanceTimersByTime(IDLE_LATEST_MS);
    expect(results).toHaveLength(2);
    expect(results[1]!.heap).toBeUndefined(); // after requests: malloc's pages at the spell's start…
    vi.advanceTimersByTime(longIdleLatestMs(30_000) - IDLE_LATEST_MS);
    expect(results).toHaveLength(3);
    expect(results[2]!.heap).toBeDefined(); // …and the heap once the spell lasted its time
    asked.served();
    vi.advanceTimersByTime(longIdleLatestMs(30_000));
    expect(results.map((r) => r.heap !== undefined)).toEqual([true, false, true, false, true]); // never the start-up step again
    asked.close();
  });

  it('writes the store out before the long-idle heap step and collects after it, unless a request came meanwhile', async () => {
    const events: string[] = [];
    let finish = () => {};
    const flushBeforeHeap = () => new Promise<void>((resolve) => { events.push('flush'); finish = resolve; });
    const asked = watchIdle({ inFlight: () => 0, reclaim: (r) => events.push((r as { heap?: object }).heap ? 'heap' : 'trim'), heapReclaimAfterMs: 30_000, collectHeap, flushBeforeHeap });
    asked.served();
    vi.advanceTimersByTime(longIdleLatestMs(30_000));
    expect(events).toEqual(['trim', 'flush']); // the collection waits for the flush
    finish();
    await vi.waitFor(() => expect(events).toEqual(['trim', 'flush', 'heap']));
    asked.served();
    vi.advanceTimersByTime(longIdleLatestMs(30_000));
    expect(events.slice(3)).toEqual(['trim', 'flush']);
    asked.served(); // a request while the store was written out: the spell is over, no collection under load
    finish();
    await vi.advanceTimersByTimeAsync(IDLE_LATEST_MS); // the flush's end settles before the next spell starts
    expect(events.slice(3)).toEqual(['trim', 'flush', 'trim']);
    asked.close();
  });

  it('after a flush, collects nothing once the watch was closed (a stopping node), runs one flush at a time, and survives a reclaim that throws', async () => {
    const events: string[] = [];
    const finishes: Array<() => void> = [];
    const flushBeforeHeap = () => new Promise<void>((resolve) => { events.push('flush'); finishes.push(resolve); });
    const closing = watchIdle({ inFlight: () => 0, reclaim: (r) => events.push((r as { heap?: object }).heap ? 'heap' : 'trim'), heapReclaimAfterMs: 30_000, collectHeap, flushBeforeHeap });
    closing.served();
    vi.advanceTimersByTime(longIdleLatestMs(30_000));
    closing.close();
    finishes.shift()!();
    await vi.advanceTimersByTimeAsync(IDLE_LATEST_MS);
    expect(events).toEqual(['trim', 'flush']); // no collection after close

    events.length = 0;
    const single = watchIdle({ inFlight: () => 0, reclaim: (r) => events.push((r as { heap?: object }).heap ? 'heap' : 'trim'), heapReclaimAfterMs: 30_000, collectHeap, flushBeforeHeap });
    for (let spell = 0; spell < 3; spell++) {
      single.served();
      vi.advanceTimersByTime(longIdleLatestMs(30_000));
    }
    expect(events).toEqual(['trim', 'flush', 'trim', 'trim']); // the first flush never ended: no second one
    single.close();

    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      // A logger that throws on the flush's failure, and one that throws on the collection's report.
      for (const [flush, throwsOn] of [[() => Promise.reject(new Error('disk')), 'error'], [() => Promise.resolve(), 'heap']] as const) {
        const reported: string[] = [];
        const throwing = watchIdle({
          inFlight: () => 0,
          heapReclaimAfterMs: 30_000, collectHeap,
          flushBeforeHeap: flush,
          reclaim: (r) => {
            const kind = r instanceof Error ? 'error' : r.heap ? 'heap' : 'trim';
            reported.push(kind);
            if (kind === throwsOn) throw new Error('logger failed');
          },
        });
        throwing.served();
        vi.advanceTimersByTime(longIdleLatestMs(30_000));
        await vi.advanceTimersByTimeAsync(IDLE_LATEST_MS);
        expect(reported).toEqual(['trim', throwsOn]);
        throwing.close();
      }
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('never collects the V8 heap without heapReclaimAfterMs (0: server.idle_heap_reclaim_seconds = 0), nor without reclaim', () => {
    const results: unknown[] = [];
    const off = watchIdle({ inFlight: () => 0, reclaim: (r) => results.push(r), heapReclaimAfterMs: 0 });
    const embedded = watchIdle({ inFlight: () => 0, heapReclaimAfterMs: 30_000, collectHeap });
    vi.advanceTimersByTime(longIdleLatestMs(30_000) * 2);
    expect(results).toHaveLength(1);
    expect((results[0] as { heap?: object }).heap).toBeUndefined(); // not at start-up either
    expect(vi.getTimerCount()).toBe(0);
    off.close();
    embedded.close();
  });
});
