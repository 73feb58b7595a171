import { reclaimIdleMemory, type Reclaimed } from './idle-memory.js';

/** A node that has had no request for this long (and none in flight) counts as idle. */
export const IDLE_AFTER_MS = 10_000;

/**
 * Whether the node is serving or idle, for the upkeep that only serving needs (the event-loop delay monitor, whose
 * libuv timer would otherwise wake an idle node every 10 ms). `served()` is called for every request the
 * pipeline takes; the node counts as idle once `quietMs` passed with no new request and none in flight (looked at four
 * times per quiet time, so within a quarter of it after that). It starts busy
 * (start-up is work too, and leaves memory behind). While idle no timer of the watch runs, so it wakes no idle node.
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

  /** A request arrived: one increment, plus the busy hook and a timer when the node was idle. */
  served(): void {
    this.#served += 1;
    if (!this.#idle || this.#closed) return;
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
  }
}

/**
 * The node's idle watch: the event-loop delay monitor (`lag`) runs while requests come and stops once the node is
 * idle. With `reclaim` (a node that owns its process: `meshgate start` and its workers), each idle spell then starts
 * by giving back the memory the load left behind (`reclaimIdleMemory`, src/gateway/idle-memory.ts), and `reclaim` is
 * told what it gave back (or why it could not).
 */
export function watchIdle(options: {
  inFlight: () => number;
  lag?: { resume(): void; pause(): void };
  reclaim?: (result: Reclaimed | Error) => void;
}): IdleWatch {
  const { lag, reclaim } = options;
  return new IdleWatch({
    quietMs: IDLE_AFTER_MS,
    inFlight: options.inFlight,
    onBusy: () => lag?.resume(),
    onIdle: () => {
      lag?.pause();
      if (!reclaim) return;
      let result: Reclaimed | Error;
      try {
        result = reclaimIdleMemory();
      } catch (err) {
        result = err as Error;
      }
      reclaim(result);
    },
  });
}
