import { boundTimer } from './forward-watchdog.js';

/**
 * The serving side's timing of one forwarded request, on one timer: its bound (the requester's `deadline`, at most
 * the one-hour cap; protocol/forward.md, "Backpressure") and its heartbeats — one whenever nothing was sent for a
 * heartbeat interval (forward.md, "Response"). `signal` aborts when the request is cancelled there (`cancelled`) or at
 * the bound, with the TimeoutError `AbortSignal.timeout` would give.
 *
 * It stands in for a linked signal with a timer of its own and a heartbeat `setInterval` per request (an
 * AbortController, an abort listener and two timers; ~10 µs per request in a loop here, ~3 µs for this).
 */
export interface ServeBoundsOptions {
  /** Time the request may take, in ms. */
  boundMs: number;
  heartbeatMs: number;
  /** Sends a heartbeat (or decides not to, e.g. while the stream is full); `sent` is called for what it writes. */
  heartbeat: () => void;
  now?: () => number;
}

export class ServeBounds {
  readonly #controller = new AbortController();
  readonly #cancelled: AbortSignal;
  readonly #options: ServeBoundsOptions;
  readonly #now: () => number;
  readonly #boundAt: number;
  #lastSentAt: number;
  #timer: NodeJS.Timeout | undefined;
  #over = false;

  constructor(cancelled: AbortSignal, options: ServeBoundsOptions) {
    this.#cancelled = cancelled;
    this.#options = options;
    this.#now = options.now ?? performance.now.bind(performance);
    const now = this.#now();
    this.#boundAt = now + options.boundMs;
    this.#lastSentAt = now;
    if (cancelled.aborted) {
      this.#controller.abort(cancelled.reason);
      return;
    }
    cancelled.addEventListener('abort', this.#onCancelled, { once: true });
    this.#arm(now);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Something was written to the requester: the next heartbeat is due a heartbeat interval from now. */
  sent(): void {
    this.#lastSentAt = this.#now();
  }

  /** The request is over: the timer and the listener go. */
  clear(): void {
    this.#over = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cancelled.removeEventListener('abort', this.#onCancelled);
  }

  readonly #onCancelled = (): void => {
    this.clear();
    this.#controller.abort(this.#cancelled.reason);
  };

  /** For the bound, or the heartbeat due first: a heartbeat interval after the last write (after now once past that). */
  #arm(now: number): void {
    const due = this.#lastSentAt + this.#options.heartbeatMs;
    this.#timer = boundTimer(this.#fire, Math.min(this.#boundAt, due > now ? due : now + this.#options.heartbeatMs) - now);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    if (this.#over || this.#controller.signal.aborted) return;
    const now = this.#now();
    if (this.#boundAt <= now) {
      this.clear();
      this.#controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      return;
    }
    if (now - this.#lastSentAt >= this.#options.heartbeatMs) this.#options.heartbeat();
    if (!this.#over && !this.#controller.signal.aborted) this.#arm(now);
  };
}
