import { reclaimIdleHeap, reclaimIdleMemory, type Reclaimed } from './idle-memory.js';

/** A node that has had no request for this long (and none in flight) counts as idle. */
export const IDLE_AFTER_MS = 10_000;

/**
 * Whether the node is serving or idle, for the upkeep that only serving needs (the event-loop delay monitor, whose
 * libuv timer would otherwise wake an idle node every 10 ms). `served()` is called for every request the
 * pipeline takes; the node counts as idle once `quietMs` passed with no new request and none in flight (looked at four
 * times per quiet time, so within a quarter of it after that). It starts busy
 * (start-up is work too, and leaves memory behind). While idle no timer of the watch runs, so it wakes no idle node —
 * but for `longIdle`'s one timer, once per idle spell.
 */
export interface IdleWatchOptions {
  /** How long without a new request (and none in flight) before the node counts as idle. */
  quietMs: number;
  /** Requests in flight now (a long stream keeps the node busy). */
  inFlight: () => number;
  /** At start, and when the first request after an idle spell arrives. */
  onBusy: () => void;
  /** Once the node has become idle. */
  onIdle: () => void;
  /** Once per idle spell that lasts `afterMs` (counted from the last request, like `quietMs`; at least `quietMs`). */
  longIdle?: { afterMs: number; run: () => void };
}

/**
 * The watch looks this many times per quiet time (a counter compare each, no per-request clock), so a node counts as
 * idle between one and 1.25 quiet times after its last request — not up to two, as with one look per quiet time.
 */
const QUIET_STEPS = 4;

/** The latest a node with the default quiet time counts as idle after its last request (what a bench waits for). */
export const IDLE_LATEST_MS = IDLE_AFTER_MS + IDLE_AFTER_MS / QUIET_STEPS;

export class IdleWatch {
  #served = 0;
  #seen = 0;
  #idle = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Checks in a row that saw no new request and none in flight. */
  #quiet = 0;

  constructor(private readonly options: IdleWatchOptions) {
    options.onBusy();
    this.#arm();
  }

  /** Requests told of so far. */
  get requests(): number {
    return this.#served;
  }

  /** Whether the node counts as idle now. */
  get idle(): boolean {
    return this.#idle;
  }

  /** Whether `close()` was called (the node is stopping: no step of the watch runs any more). */
  get closed(): boolean {
    return this.#closed;
  }

  /** A request arrived: one increment, plus the busy hook and a timer when the node was idle. */
  served(): void {
    this.#served += 1;
    if (!this.#idle || this.#closed) return;
    clearTimeout(this.#timer); // the long-idle timer, if its spell ends before it
    this.#idle = false;
    this.#seen = this.#served;
    this.#quiet = 0;
    this.options.onBusy();
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    // Unref'd: a node that is stopping does not wait for the watch.
    this.#timer = setTimeout(() => this.#check(), this.options.quietMs / QUIET_STEPS).unref();
  }

  #check(): void {
    if (this.#closed) return;
    if (this.#served !== this.#seen || this.options.inFlight() > 0) {
      this.#seen = this.#served;
      this.#quiet = 0;
      this.#arm();
      return;
    }
    if (++this.#quiet < QUIET_STEPS) {
      this.#arm();
      return;
    }
    this.#idle = true;
    this.#timer = undefined;
    this.options.onIdle();
    const long = this.options.longIdle;
    if (long && !this.#closed) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        long.run();
      }, Math.max(0, long.afterMs - this.options.quietMs)).unref();
    }
  }
}

/**
 * The latest a node whose long-idle step comes `afterMs` after its last request has taken it (what a bench waits for):
 * the step's timer starts when the node counts as idle, up to a quarter quiet time late.
 */
export function longIdleLatestMs(afterMs: number): number {
  return IDLE_LATEST_MS + Math.max(0, afterMs - IDLE_AFTER_MS);
}

/**
 * The node's idle watch: the event-loop delay monitor (`lag`) runs while requests come and stops once the node is
 * idle. With `reclaim` (a node that owns its process: `meshgate start` and its workers), each idle spell then starts
 * by giving back the memory the load left in malloc's heaps (`reclaimIdleMemory`, src/gateway/idle-memory.ts), and —
 * with `heapReclaimAfterMs` (`server.idle_heap_reclaim_seconds`) — a spell that lasts that long collects V8's heap too
 * (`reclaimIdleHeap`, after `flushBeforeHeap`), once per spell that followed requests: a node that served nothing
 * since its last collection has nothing new to give back. The first idle spell after start-up, when the node has
 * served nothing yet, collects the heap at its start instead: what start-up left (its young generation grown to the cap, the bundle's evaluation,
 * config and mesh start) is garbage, and no optimised request code is there to lose (README "Benchmarks", idle
 * memory: about 14 MB). `reclaim` is told what each step gave back (or why it could not).
 */
export function watchIdle(options: {
  inFlight: () => number;
  lag?: { resume(): void; pause(): void };
  reclaim?: (result: Reclaimed | Error) => void;
  heapReclaimAfterMs?: number;
  /** Run before the long-idle heap step, which waits for it: the store's in-memory table written out (`Store.flushMemtable`). */
  flushBeforeHeap?: () => Promise<void>;
  /** The heap step itself (`reclaimIdleHeap`; a test's own to follow when it runs). */
  collectHeap?: () => Reclaimed;
}): IdleWatch {
  const { lag, reclaim, heapReclaimAfterMs, flushBeforeHeap, collectHeap = reclaimIdleHeap } = options;
  /** Runs one reclaim step and tells `reclaim` what it gave back, or why it could not. */
  const reclaimWith = (step: () => Reclaimed) => () => {
    let result: Reclaimed | Error;
    try {
      result = step();
    } catch (err) {
      result = err as Error;
    }
    reclaim?.(result);
  };
  const trim = reclaim && reclaimWith(reclaimIdleMemory);
  const heap = reclaim && heapReclaimAfterMs ? reclaimWith(collectHeap) : undefined;
  /** The watch's request count at the last heap collection (none yet: -1). */
  let collectedAt = -1;
  const collect = (requests: number) => {
    collectedAt = requests;
    heap!();
  };
  const watch: IdleWatch = new IdleWatch({
    quietMs: IDLE_AFTER_MS,
    inFlight: options.inFlight,
    onBusy: () => lag?.resume(),
    onIdle: () => {
      lag?.pause();
      // Nothing served yet: the first spell after start-up (a spell without requests before it can come only once).
      if (heap && watch.requests === 0) collect(0); // start-up's garbage: at once
      else trim?.();
    },
    longIdle: heap ? { afterMs: heapReclaimAfterMs!, run: () => longIdle() } : undefined,
  });
  /** Whether a flush is under way (one at a time: each holds a thread of libuv's pool while LevelDB works). */
  let flushing = false;
  /**
   * The long-idle step: nothing if nothing was served since the last collection (or a flush is still under way); a
   * flush first, if any, and then the collection only if the watch is still open and the node still idle with no
   * request taken by the pipeline since (one that came meanwhile ended the spell).
   */
  const longIdle = () => {
    const requests = watch.requests;
    if (requests === collectedAt || flushing) return;
    if (!flushBeforeHeap) return collect(requests);
    flushing = true;
    flushBeforeHeap()
      .catch((err: Error) => reclaim?.(err))
      .then(() => {
        if (!watch.closed && watch.idle && watch.requests === requests) collect(requests);
      })
      .catch(() => {}) // `reclaim` itself threw (a logger): there is no one left to tell
      .finally(() => (flushing = false));
  };
  return watch;
}
