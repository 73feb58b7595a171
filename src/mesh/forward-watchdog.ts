/**
 * The bounds of one forwarded request on the requesting side, as one AbortSignal and one timer: the request's
 * `deadline`, the wait for its head (`head_timeout_ms` / `stream_head_timeout_ms`, heartbeats do not extend it) and,
 * while a frame is awaited, the peer's silence (4 heartbeat intervals; protocol/forward.md, "Response"). Whichever
 * passes first — or the caller's own signal aborting — aborts `signal` once (`onAbort` told first, in place of a
 * listener); `expired` says which bound it was.
 *
 * It stands in for a linked signal per bound (the deadline's, the head's, and one per wait for a frame): three
 * AbortControllers, three timers and four or five abort listeners per forward, measured at ~22 µs together in a loop
 * here against ~3 µs for this one. The timer is armed for the earliest bound; a bound that moves later (a wait that
 * ended, a head that arrived) leaves it as it is, and a timer that fires before any bound is due arms itself again.
 */
export type ForwardBound = 'deadline' | 'head' | 'idle';

export interface ForwardBounds {
  /** Time left until the request's deadline, in ms. */
  deadlineMs: number;
  /** Longest wait for the head once the request is on its way, in ms. */
  headMs: number;
  /** Longest silence while a frame is awaited, in ms. */
  idleMs: number;
  /** The abort reason for each bound (built only when it fires). */
  reason: (bound: ForwardBound) => unknown;
  /** Called once, just before `signal` aborts (whatever the cause, the caller's signal included), with its reason. */
  onAbort?: (reason: unknown) => void;
}

/** setTimeout's longest delay (a longer one would fire at once); a later bound is re-armed for when this one fires. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * An unref'd timer for `fn` in `ms` (at least 1 ms: a bound already due fires on the next turn, never synchronously;
 * at most setTimeout's longest delay: its owner re-arms for what is left when it fires early).
 */
export function boundTimer(fn: () => void, ms: number): NodeJS.Timeout {
  const timer = setTimeout(fn, Math.min(MAX_TIMER_MS, Math.max(1, ms)));
  timer.unref();
  return timer;
}

export class ForwardWatchdog {
  readonly #controller = new AbortController();
  readonly #parent: AbortSignal;
  readonly #bounds: ForwardBounds;
  readonly #now: () => number;
  #deadlineAt: number;
  #headAt = Infinity;
  #idleAt = Infinity;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #expired: ForwardBound | undefined;
  /** Cleared: the request is over, nothing arms the timer again. */
  #over = false;

  constructor(parent: AbortSignal, bounds: ForwardBounds, now: () => number = performance.now.bind(performance)) {
    this.#parent = parent;
    this.#bounds = bounds;
    this.#now = now;
    const start = now();
    this.#deadlineAt = start + bounds.deadlineMs;
    if (parent.aborted) {
      this.#abort(parent.reason);
      return;
    }
    parent.addEventListener('abort', this.#onParentAbort, { once: true });
    this.#arm(start);
  }

  /** Aborts with the caller's reason, the bound's reason or nothing else; once. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The bound that ended the request (undefined while none has, or when the caller's signal did). */
  get expired(): ForwardBound | undefined {
    return this.#expired;
  }

  /** The request is on its way: the head is awaited from now on, for at most `headMs`. */
  headAwaited(): void {
    this.#headAt = this.#boundFromNow(this.#bounds.headMs);
  }

  /** The head arrived: its bound no longer applies. */
  headArrived(): void {
    this.#headAt = Infinity;
  }

  /** A frame is awaited from now on: the peer's silence is bounded until `waitEnded`. */
  waitStarted(): void {
    this.#idleAt = this.#boundFromNow(this.#bounds.idleMs);
  }

  /** The awaited frame came (or the wait failed): time between reads is the consumer's, not the peer's silence. */
  waitEnded(): void {
    this.#idleAt = Infinity;
  }

  /** The request is over: the timer and the caller's listener go. */
  clear(): void {
    this.#over = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.#parent.removeEventListener('abort', this.#onParentAbort);
  }

  readonly #onParentAbort = (): void => {
    this.clear();
    this.#abort(this.#parent.reason);
  };

  #abort(reason: unknown): void {
    this.#bounds.onAbort?.(reason);
    this.#controller.abort(reason);
  }

  /** A bound `ms` from now, the timer brought forward to it when it would fire later. */
  #boundFromNow(ms: number): number {
    if (this.#over || this.signal.aborted) return Infinity;
    const now = this.#now();
    const at = now + ms;
    if (at < this.#timerAt) this.#arm(now, at);
    return at;
  }

  /** The timer, for `at` (the earliest bound unless given). */
  #arm(now: number, at = Math.min(this.#deadlineAt, this.#headAt, this.#idleAt)): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = boundTimer(this.#fire, at - now);
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#controller.signal.aborted) return;
    const now = this.#now();
    // The deadline first: past it the requester no longer wants the answer, whatever else also ran out.
    const due: ForwardBound | undefined = this.#deadlineAt <= now ? 'deadline' : this.#headAt <= now ? 'head' : this.#idleAt <= now ? 'idle' : undefined;
    if (!due) return this.#arm(now); // fired for a bound that moved later since (or a little early): wait for the next
    this.#expired = due;
    this.clear();
    this.#abort(this.#bounds.reason(due));
  };
}
