import type { Dispatcher } from 'undici';
import { undiciErrors } from './undici.js';

/**
 * One request to an upstream through undici's `dispatch` with a handler of our own, instead of `request()` and its
 * `Readable` body. The body's chunks go into a small queue the caller reads: the end of the answer is known the moment
 * undici parses it (in the same tick as its last bytes), where a `Readable` announces it one `process.nextTick` later —
 * after node:http has already flushed what the gateway wrote of a stream, so the stream's terminating chunk went out in
 * a write (and a packet) of its own. It also skips the stream machinery per chunk (`read()`, `'readable'`, `'end'`), and
 * hands the reader what arrived together as one chunk (see `takeAll`).
 */

/** Bytes queued for a reader slower than the upstream before undici stops reading the socket (TCP then pushes back). */
const HIGH_WATER_BYTES = 64 * 1024;

export interface ExchangeOptions {
  url: string;
  method?: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  headersTimeout: number;
  bodyTimeout: number;
  /** A limit on the whole exchange, its body included (undici's timeouts bound the head and each gap in the body). */
  deadline?: ExchangeDeadline;
}

/**
 * A total time limit on one exchange, counted from when it was made (work before the exchange — signing — counts
 * too). Its handler keeps it with one timer, cleared when the exchange ends in any way (complete, failed, given up),
 * and ends the exchange with `reason()` when it passes: no AbortSignal of its own linked to the caller's, which cost
 * a controller, two listeners and about 2 KB per upstream request.
 */
export class ExchangeDeadline {
  /** The limit passed (rather than the caller's signal aborting or the transport failing). */
  timedOut = false;
  private readonly startedAt = performance.now();

  constructor(readonly ms: number) {}

  /** What the exchange ends with once the limit passed: a `TimeoutError`, as `AbortSignal.timeout` gives. */
  reason(): Error {
    return new DOMException(`total timeout of ${this.ms} ms exceeded`, 'TimeoutError');
  }

  /** Milliseconds left (0 once passed). */
  remainingMs(): number {
    return Math.max(0, this.ms - (performance.now() - this.startedAt));
  }
}

export interface ExchangeResponse {
  status: number;
  headers: Record<string, string>;
  body: UpstreamBody;
}

/** Sends the request; resolves with the status and headers (the body streams on), rejects with undici's error. */
export function exchange(dispatcher: Dispatcher, options: ExchangeOptions): Promise<ExchangeResponse> {
  return new Promise((resolve, reject) => {
    const handler = new ExchangeHandler(resolve, reject, options.signal, options.deadline);
    if (handler.settled) return;
    const { origin, path } = targetOf(options.url);
    try {
      dispatcher.dispatch({
        origin, path, method: options.method ?? 'POST', headers: options.headers, body: options.body ?? null,
        headersTimeout: options.headersTimeout, bodyTimeout: options.bodyTimeout,
      }, handler);
    } catch (err) {
      handler.onResponseError(undefined, err as Error);
    }
  });
}

class ExchangeHandler implements Dispatcher.DispatchHandler {
  settled = false;
  private controller: Dispatcher.DispatchController | undefined;
  private abortReason: Error | undefined;
  private body: UpstreamBody | undefined;
  private readonly onAbort: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly resolve: (response: ExchangeResponse) => void,
    private readonly reject: (err: unknown) => void,
    private readonly signal: AbortSignal,
    deadline: ExchangeDeadline | undefined,
  ) {
    if (signal.aborted) {
      this.settled = true;
      reject(abortReasonOf(signal));
      return;
    }
    this.onAbort = () => this.abort(abortReasonOf(signal));
    signal.addEventListener('abort', this.onAbort, { once: true });
    if (deadline) {
      this.timer = setTimeout(() => {
        deadline.timedOut = true;
        this.abort(deadline.reason());
      }, deadline.remainingMs());
      this.timer.unref();
    }
  }

  /** Ends the exchange with `reason`: before the head, the promise rejects with it; after, the body's reader gets it. */
  abort(reason: Error): void {
    if (this.controller) {
      this.controller.abort(reason);
      return;
    }
    // Not on a connection yet (queued in the pool): undici is told once it hands the request a controller.
    this.abortReason ??= reason;
    this.fail(reason);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.abortReason) controller.abort(this.abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200 || this.settled) return; // 1xx informational: the real answer follows
    this.settled = true;
    this.body = new UpstreamBody(this, controller);
    this.resolve({ status: statusCode, headers: headerRecord(headers), body: this.body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.body?.push(chunk);
  }

  onResponseEnd(): void {
    this.release();
    this.body?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.fail(err);
  }

  private fail(err: Error): void {
    this.release();
    if (!this.settled) {
      this.settled = true;
      this.reject(err);
    } else {
      this.body?.fail(err);
    }
  }

  private release(): void {
    if (this.onAbort) this.signal.removeEventListener('abort', this.onAbort);
    clearTimeout(this.timer);
  }
}

/** What the one reader of a body wants done as it streams: its errors told in its own terms, and its end (any end). */
export interface BodyObserver {
  /** The error a reader of the stream is given instead of the transport's (not applied to `bytes()`/`text()`). */
  mapError?: (err: Error) => Error;
  /** Once, when reading ends for any reason: the body complete, failed, or the reader stopping early. */
  onEnd?: () => void;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * An upstream answer's body as it arrives: read it once, either chunk by chunk (`for await`) or whole (`bytes()`,
 * `text()`, `json()`). A reader that stops early, or `destroy()`, ends the exchange (the connection is not reused).
 *
 * The body is its own async iterator, written out rather than an async generator (and with the provider's error
 * mapping and end in `observe` rather than in a generator around it): a streamed answer passes every chunk through
 * here, and each generator layer costs promises, a suspended frame and its closures per stream and per chunk.
 */
export class UpstreamBody implements AsyncIterableIterator<Uint8Array> {
  private readonly chunks: Buffer[] = [];
  private queued = 0;
  private ended = false;
  private error: Error | undefined;
  /** A reader waiting for the next chunk (at most one: `next()` is not called again before it settles). */
  private waiter: { resolve: (result: IteratorResult<Uint8Array>) => void; reject: (err: unknown) => void } | undefined;
  private deliveryQueued = false;
  private used = false;
  private done = false;
  private observer: BodyObserver | undefined;
  /** Off for `bytes()`: its caller maps the transport's errors itself. */
  private mapErrors = true;

  constructor(private readonly handler: ExchangeHandler, private readonly controller: Dispatcher.DispatchController) {}

  /** Sets what the reader of the stream wants done (see `BodyObserver`); returns the body. */
  observe(observer: BodyObserver): this {
    this.observer = observer;
    return this;
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.queued += chunk.byteLength;
    if (this.queued >= HIGH_WATER_BYTES && !this.controller.paused) this.controller.pause();
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(err: Error): void {
    if (this.ended) return;
    this.error ??= err;
    this.notify();
  }

  /**
   * A waiting reader is answered in a microtask, not at once: the chunks undici parses out of one socket read (one
   * HTTP chunk per event, as providers send a stream) all arrive before it runs and reach the reader together.
   */
  private notify(): void {
    if (!this.waiter || this.deliveryQueued) return;
    this.deliveryQueued = true;
    queueMicrotask(this.deliver);
  }

  private readonly deliver = (): void => {
    this.deliveryQueued = false;
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    this.settle(waiter.resolve, waiter.reject);
  };

  /** Answers a read from what is there: the queued chunks, else the error, else the end (never called with none). */
  private settle(resolve: (result: IteratorResult<Uint8Array>) => void, reject: (err: unknown) => void): void {
    if (this.chunks.length > 0) return resolve({ done: false, value: this.takeAll() });
    if (this.error) {
      const err = this.error;
      this.finish(false);
      return reject(this.mapErrors && this.observer?.mapError ? this.observer.mapError(err) : err);
    }
    this.finish(true);
    resolve(DONE);
  }

  /**
   * Everything queued, as one chunk: what undici parsed out of one socket read reaches the reader together —
   * node:http would have written it out in one go anyway — while what arrives later stays apart.
   */
  private takeAll(): Buffer {
    const chunks = this.chunks.splice(0);
    const chunk = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.queued);
    this.queued = 0;
    if (this.controller.paused) this.controller.resume();
    return chunk;
  }

  /** Reading is over: an incomplete body is given up (the exchange ends), and the observer hears of the end once. */
  private finish(complete: boolean): void {
    if (this.done) return;
    this.done = true;
    if (!complete) this.destroy();
    this.observer?.onEnd?.();
  }

  private claim(): void {
    if (this.used) throw new TypeError('the upstream body was already read');
    this.used = true;
  }

  [Symbol.asyncIterator](): this {
    this.claim();
    return this;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.done) return Promise.resolve(DONE);
    if (this.chunks.length > 0 || this.error || this.ended) return new Promise((resolve, reject) => this.settle(resolve, reject));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  /** The reader stops early: the download ends (nothing happens once the body is complete). */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.finish(this.ended && this.chunks.length === 0 && !this.error);
    return Promise.resolve(DONE);
  }

  /** The whole body, exactly as received. */
  async bytes(): Promise<Uint8Array> {
    this.claim();
    this.mapErrors = false;
    const parts: Buffer[] = [];
    let size = 0;
    for (let next = await this.next(); !next.done; next = await this.next()) {
      parts.push(next.value as Buffer);
      size += next.value.byteLength;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
  }

  /** The body as UTF-8 text (a byte-order mark dropped, as fetch's `text()` does). */
  async text(): Promise<string> {
    return UTF8.decode(await this.bytes());
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  /** Stops the download; a reader waiting for more gets an error. Nothing happens once the body is complete. */
  destroy(): void {
    if (this.ended || this.error) return;
    const reason = new undiciErrors.RequestAbortedError('the upstream body was not read to its end');
    this.error = reason;
    this.handler.abort(reason);
    this.notify();
  }
}

const UTF8 = new TextDecoder();

function abortReasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new undiciErrors.RequestAbortedError();
}

function headerRecord(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const targets = new Map<string, { origin: string; path: string }>();
/** Endpoint URLs are few (per provider, operation and — for some — model): each is parsed once. */
const MAX_TARGETS = 1024;

function targetOf(url: string): { origin: string; path: string } {
  let target = targets.get(url);
  if (!target) {
    const parsed = new URL(url);
    target = { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(url, target);
  }
  return target;
}
