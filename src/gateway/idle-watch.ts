/** A node that has had no request for this long (and none in flight) counts as idle. */
export const IDLE_AFTER_MS = 10_000;

/**
 * Whether the node is serving or idle, for the upkeep that only serving needs (the event-loop delay monitor, whose
 * libuv timer would otherwise wake an idle node every 10 ms). `served()` is called for every request the
 * pipeline takes; the node counts as idle once `quietMs` passed with no new request and none in flight. It starts busy
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

export class IdleWatch {
  #served = 0;
  #seen = 0;
  #idle = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

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
    this.options.onBusy();
    this.#arm();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  #arm(): void {
    // Unref'd: a node that is stopping does not wait for the watch.
    this.#timer = setTimeout(() => this.#check(), this.options.quietMs).unref();
  }

  #check(): void {
    if (this.#closed) return;
    if (this.#served !== this.#seen || this.options.inFlight() > 0) {
      this.#seen = this.#served;
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
 * idle. Not done at idle, measured and dropped: a memory-reducing full collection (through an in-process inspector
 * session) shrank the V8 heap by ~10 MB, but the node then spent 11-17% more CPU per request under the load that
 * followed (`bench/ab.ts`, two runs), and resident memory did not fall with it (what the heap gave back stayed in malloc).
 */
export function watchIdle(options: { inFlight: () => number; lag?: { resume(): void; pause(): void } }): IdleWatch {
  const { lag } = options;
  return new IdleWatch({ quietMs: IDLE_AFTER_MS, inFlight: options.inFlight, onBusy: () => lag?.resume(), onIdle: () => lag?.pause() });
}
