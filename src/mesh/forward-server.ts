import type { Connection, Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import { encodeFrame, FrameBatch, MAX_DATA_FRAME_BYTES, type Frame, type ForwardHead, type ForwardRequestFrame, type ForwardTrailer, type RefusalCode } from './forward-frames.js';
import type { ByteBudget } from './byte-budget.js';
import { FrameReader } from './frame-reader.js';
import { ForwardSessionServer } from './forward-session-server.js';
import { ServeBounds } from './serve-bounds.js';

/** The longest this node works on one forwarded request, whatever deadline the requester sent. */
const MAX_FORWARD_MS = 60 * 60_000;

/** Serves one forwarded request; the lead's gateway pipeline implements it. */
export type ForwardHandler = (
  req: ForwardRequestFrame,
  ctx: { peerId: string; signal: AbortSignal },
) => Promise<{ head: ForwardHead; body: AsyncIterable<Uint8Array>; trailer: () => ForwardTrailer | Promise<ForwardTrailer> }>;

export interface ForwardServerOptions {
  selfId: string;
  maxHops: number;
  maxConcurrent: number;
  maxRequestBytes: number;
  heartbeatMs: number;
  /**
   * How long a peer may take to send its request frame after opening the stream, plus the frame's declared length
   * at `requestMinBytesPerSecond` once its length prefix is in.
   */
  requestTimeoutMs: number;
  requestMinBytesPerSecond?: number;
  /** Forwarded requests (being read or served) one peer may hold at once; absent = maxConcurrent. */
  maxConcurrentPerPeer?: number;
  /**
   * Bytes of request frames being read at once across all peers (each frame's declared length is reserved); one
   * peer may hold at most its share of it, `capacity × maxConcurrentPerPeer / maxConcurrent` but never less than
   * one frame of `maxRequestBytes`, so a single peer cannot keep the others' frames from being read.
   */
  requestBudget?: ByteBudget;
  isAllowed: (peerId: string) => boolean;
  handler: () => ForwardHandler | undefined;
  logger: Logger;
}

/** A request frame that does not fit in what is left of the node's read budget. */
class OverBudgetError extends Error {
  constructor(length: number) {
    super(`a request frame of ${length} bytes does not fit in the read budget now`);
    this.name = 'OverBudgetError';
  }
}

class StreamClosedError extends Error {
  constructor() {
    super('the requester closed the stream');
    this.name = 'StreamClosedError';
  }
}

/**
 * Where one forwarded request's answer goes: its own 1.0.0 stream, or its session id on a shared 2.0.0 stream.
 * The serving logic (checks, handler, heartbeats, head, body, trailer) is the same for both.
 */
export interface ResponseSink {
  /** Aborted when the requester cancelled the request or went away. */
  readonly cancelled: AbortSignal;
  /** True while frames sent now would only queue (heartbeats are skipped then). */
  readonly needsDrain: boolean;
  /**
   * Encodes a frame for the next `flush` (DATA counts against the requester's credit at once). Frames queued
   * together leave in one write: one Yamux frame, one Noise message and one socket write instead of one per frame.
   */
  queue(frame: Frame): void;
  /** Bytes queued and not yet flushed. */
  readonly queuedBytes: number;
  /** Writes the queued frames once the way is clear; a requester that stops reading for `stallMs` fails it. */
  flush(signal: AbortSignal): Promise<void>;
  /** DATA bytes that may be queued now without waiting for credit (unbounded on 1.0.0). */
  readonly available: number;
  /** The largest DATA payload that may be sent now (waits for the requester's credit on 2.0.0). */
  room(signal: AbortSignal): Promise<number>;
  /** Ends the answer after its trailer. */
  finish(signal: AbortSignal): Promise<void>;
  /** Ends the answer without a trailer: the requester sees a broken response. */
  reset(err: Error): void;
  /** The only answer: a refusal. */
  refuse(code: RefusalCode, message: string): Promise<void>;
}

/** A 1.0.0 stream as a response sink: the stream is the request's, so cancelling is the stream closing early. */
class StreamSink implements ResponseSink {
  readonly #stream: Stream;
  readonly #stallMs: number;
  readonly #refuse: (code: RefusalCode, message: string) => Promise<void>;
  readonly #cancel = new AbortController();
  readonly #batch = new FrameBatch();
  #finishing = false;
  readonly available = Number.POSITIVE_INFINITY;

  constructor(stream: Stream, stallMs: number, refuse: (code: RefusalCode, message: string) => Promise<void>) {
    this.#stream = stream;
    this.#stallMs = stallMs;
    this.#refuse = refuse;
    stream.addEventListener('close', this.#onClose, { once: true });
  }

  readonly #onClose = () => {
    if (!this.#finishing) this.#cancel.abort(new StreamClosedError());
  };

  get cancelled(): AbortSignal {
    return this.#cancel.signal;
  }

  get needsDrain(): boolean {
    return this.#stream.writableNeedsDrain;
  }

  queue(frame: Frame): void {
    this.#batch.add(encodeFrame(frame));
  }

  get queuedBytes(): number {
    return this.#batch.byteLength;
  }

  async flush(signal: AbortSignal): Promise<void> {
    const bytes = this.#batch.take();
    if (bytes && !this.#stream.send(bytes)) await this.#stream.onDrain({ signal: AbortSignal.any([signal, AbortSignal.timeout(this.#stallMs)]) });
  }

  async room(): Promise<number> {
    return MAX_DATA_FRAME_BYTES;
  }

  async finish(signal: AbortSignal): Promise<void> {
    this.#finishing = true;
    this.#stream.removeEventListener('close', this.#onClose);
    await this.#stream.close({ signal });
  }

  reset(err: Error): void {
    this.#finishing = true;
    this.#batch.take();
    this.#stream.removeEventListener('close', this.#onClose);
    this.#stream.abort(err);
  }

  refuse(code: RefusalCode, message: string): Promise<void> {
    this.#finishing = true;
    this.#batch.take();
    this.#stream.removeEventListener('close', this.#onClose);
    return this.#refuse(code, message);
  }
}

/**
 * The serving side of `/meshgate/forward/1.0.0`: checks who asks and the hop bookkeeping, runs the handler, and
 * streams head, body and trailer back with heartbeats while nothing else is sent. The stream closing early
 * (requester cancelled or died) aborts the handler's signal; the handler failing mid-body resets the stream.
 */
export class ForwardServer {
  readonly #options: ForwardServerOptions;
  #inFlight = 0;
  /** Streams whose request frame is still being read (bounded with #inFlight by maxConcurrent). */
  #reading = 0;
  /** Streams being read or served, per requesting peer (bounded by maxConcurrentPerPeer). */
  readonly #perPeer = new Map<string, number>();
  /** Request bytes reserved per requesting peer (bounded by its share of the read budget). */
  readonly #readingBytes = new Map<string, number>();
  /** Set by drain(): new requests are refused, those in flight finish. */
  #draining = false;
  readonly #idleWaiters = new Set<() => void>();

  readonly #sessions: ForwardSessionServer;

  constructor(options: ForwardServerOptions) {
    this.#options = options;
    this.#sessions = new ForwardSessionServer({
      maxRequestBytes: options.maxRequestBytes,
      requestTimeoutMs: options.requestTimeoutMs,
      requestMinBytesPerSecond: options.requestMinBytesPerSecond,
      stallMs: 4 * options.heartbeatMs,
      logger: options.logger,
      admit: (peerId) => this.#admit(peerId),
      reserve: (peerId, length) => this.#reserve(peerId, length),
      unreserve: (peerId, length) => this.#unreserve(peerId, length),
      serve: (sink, request, peerId) => this.#checkAndServe(sink, request, peerId),
    });
  }

  /** `/meshgate/forward/2.0.0`: a long-lived stream carrying many requests (see forward-session-server.ts). */
  readonly handleSession = (stream: Stream, connection: Connection): Promise<void> => this.#sessions.handle(stream, connection.remotePeer.toString());

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * For a node shutting down: refuses new requests with 'busy' (a refusal the requester does not hold against this
   * node; it asks another peer) and resolves once the requests in flight are done, their streams and trailers sent.
   */
  drain(): Promise<void> {
    this.#draining = true;
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.#idleWaiters.delete(wake);
        resolve();
      };
      this.#idleWaiters.add(wake);
    });
  }

  readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const peerId = connection.remotePeer.toString();
    const admitted = this.#admit(peerId);
    if (typeof admitted !== 'function') {
      await this.#refuse(stream, admitted.code, admitted.message);
      return;
    }
    try {
      await this.#readAndServe(stream, peerId);
    } finally {
      admitted();
    }
  };

  /**
   * Takes a slot for one request of `peerId` (released by the function returned), or says why not. Request frames
   * can be large (the body travels in them): only as many are read at once as requests could be served, so streams
   * that send a length and then trickle (or never send) the rest cannot pile up buffers.
   */
  #admit(peerId: string): (() => void) | { code: RefusalCode; message: string } {
    const { maxConcurrent, maxConcurrentPerPeer = maxConcurrent } = this.#options;
    if (this.#draining) return { code: 'busy', message: 'node is shutting down' };
    if (this.#reading + this.#inFlight >= maxConcurrent) return { code: 'busy', message: 'node is at capacity' };
    // One peer cannot take every slot: the others keep theirs whatever it opens.
    const held = this.#perPeer.get(peerId) ?? 0;
    if (held >= maxConcurrentPerPeer) {
      this.#options.logger.info({ peer: peerId, held }, 'mesh: peer at its limit of concurrent forwards');
      return { code: 'busy', message: `this peer already has ${held} forwarded requests in flight here` };
    }
    this.#perPeer.set(peerId, held + 1);
    return () => {
      const left = (this.#perPeer.get(peerId) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(peerId, left);
      else this.#perPeer.delete(peerId);
    };
  }

  /** Reserves a request frame's declared length against the node's read budget and the peer's share of it. */
  #reserve(peerId: string, length: number): boolean {
    const budget = this.#options.requestBudget;
    if (!budget) return true;
    const held = this.#readingBytes.get(peerId) ?? 0;
    if (held + length > this.#peerBudgetShare(budget) || !budget.take(length)) return false;
    this.#readingBytes.set(peerId, held + length);
    return true;
  }

  #unreserve(peerId: string, length: number): void {
    const budget = this.#options.requestBudget;
    if (!budget || length === 0) return;
    budget.give(length);
    const left = (this.#readingBytes.get(peerId) ?? length) - length;
    if (left > 0) this.#readingBytes.set(peerId, left);
    else this.#readingBytes.delete(peerId);
  }

  /**
   * Reads the request frame within its deadline (the base timeout, then its declared length at the minimum rate)
   * and against the node's read budget, then serves it.
   */
  async #readAndServe(stream: Stream, peerId: string): Promise<void> {
    const { requestTimeoutMs, requestMinBytesPerSecond, maxRequestBytes } = this.#options;
    this.#reading++;
    const startedAt = Date.now();
    const tooSlow = new AbortController();
    const armDeadline = (ms: number) => setTimeout(() => tooSlow.abort(new Error('request frame not complete in time')), Math.max(0, ms));
    let deadline = armDeadline(requestTimeoutMs);
    let reserved = 0;
    const reader = new FrameReader(stream, maxRequestBytes, {
      onFrameLength: (length) => {
        if (!this.#reserve(peerId, length)) throw new OverBudgetError(length);
        reserved = length;
        if (requestMinBytesPerSecond === undefined) return;
        clearTimeout(deadline);
        deadline = armDeadline(startedAt + requestTimeoutMs + (length / requestMinBytesPerSecond) * 1000 - Date.now());
      },
    });
    let request: ForwardRequestFrame | undefined;
    let failure: unknown;
    try {
      const frame = await reader.next(tooSlow.signal);
      if (frame?.type !== 'request') throw new Error(`expected a request frame, got ${frame?.type ?? 'end of stream'}`);
      request = frame.value;
    } catch (err) {
      failure = err;
    } finally {
      // The budget and the reading slot are given back before anything else is awaited (a refusal's close included).
      clearTimeout(deadline);
      reader.dispose();
      this.#unreserve(peerId, reserved);
      this.#reading--;
    }
    if (!request) {
      this.#options.logger.debug({ peer: peerId, err: (failure as Error).message }, 'mesh: unreadable forward request');
      if (failure instanceof OverBudgetError) await this.#refuse(stream, 'busy', 'this node is reading as many request bytes as it can hold; try again shortly');
      else await this.#refuse(stream, 'bad_request', tooSlow.signal.aborted ? 'the request frame did not arrive in time' : 'expected one well-formed request frame');
      return;
    }
    await this.#checkAndServe(new StreamSink(stream, 4 * this.#options.heartbeatMs, (code, message) => this.#refuse(stream, code, message)), request, peerId);
  }

  /** The checks of a request that has been read, then serving it (both protocol versions). */
  async #checkAndServe(sink: ResponseSink, request: ForwardRequestFrame, peerId: string): Promise<void> {
    const refusal = this.#check(request, peerId);
    if (refusal) {
      this.#options.logger.info({ peer: peerId, requestId: request.id, code: refusal.code }, 'mesh: forward refused');
      await sink.refuse(refusal.code, refusal.message);
      return;
    }
    const handler = this.#options.handler();
    if (!handler) {
      await sink.refuse('unavailable', 'this node serves no forwarded requests');
      return;
    }
    this.#inFlight++;
    try {
      await this.#serve(sink, request, peerId, handler);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const wake of this.#idleWaiters) wake();
    }
  }

  #peerBudgetShare(budget: ByteBudget): number {
    const { maxConcurrent, maxConcurrentPerPeer = maxConcurrent, maxRequestBytes } = this.#options;
    return Math.max(maxRequestBytes, Math.floor((budget.capacity * maxConcurrentPerPeer) / maxConcurrent));
  }

  #check(request: ForwardRequestFrame, peerId: string): { code: RefusalCode; message: string } | undefined {
    const { selfId, maxHops, maxConcurrent, isAllowed } = this.#options;
    if (!isAllowed(peerId)) return { code: 'not_allowed', message: 'peer is not on this node\'s allow list' };
    if (request.visited.includes(selfId)) return { code: 'cycle', message: 'request already visited this node' };
    // Not on trust (forward.md): the sending peer is on the path, and a request has come at least as many hops as the
    // path is long.
    const path = request.visited.includes(peerId) ? request.visited.length : request.visited.length + 1;
    const hop = Math.max(request.hop, path, 1);
    if (hop > maxHops) return { code: 'hop_limit', message: `hop ${hop} exceeds max_hops ${maxHops}` };
    if (request.deadline <= Date.now()) return { code: 'timeout', message: 'deadline already passed' };
    if (this.#draining) return { code: 'busy', message: 'node is shutting down' };
    if (this.#inFlight >= maxConcurrent) return { code: 'busy', message: 'node is at capacity' };
    return undefined;
  }

  async #refuse(stream: Stream, code: RefusalCode, message: string): Promise<void> {
    try {
      stream.send(encodeFrame({ type: 'refusal', value: { code, message } }));
      await stream.close({ signal: AbortSignal.timeout(this.#options.requestTimeoutMs) });
    } catch {
      stream.abort(new Error('refusal not delivered'));
    }
  }

  async #serve(sink: ResponseSink, request: ForwardRequestFrame, peerId: string, handler: ForwardHandler): Promise<void> {
    // However far the requester's deadline, a forwarded request holds a slot here for at most MAX_FORWARD_MS; the
    // pipeline listens on this signal. Heartbeats keep the requester's idle timer (and any middlebox) from declaring a
    // long generation dead. Both on one timer, cleared when serving ends (serve-bounds.ts).
    const bounds = new ServeBounds(sink.cancelled, {
      boundMs: Math.min(MAX_FORWARD_MS, Math.max(1, request.deadline - Date.now())),
      heartbeatMs: this.#options.heartbeatMs,
      heartbeat: () => {
        if (sink.needsDrain) return;
        void (async () => {
          queue({ type: 'heartbeat' });
          await flush();
        })().catch(() => undefined);
      },
    });
    const signal = bounds.signal;
    let headQueued = false;
    let headSent = false;
    // Frames are queued and written together: the head with the first body chunk (a requester does nothing with a
    // head before the body anyway), and a complete answer's head, body and trailer in one write — each write is a
    // Yamux frame, a Noise message, a socket write here and a wake-up at the requester. A streamed answer's chunks
    // leave as they come; a large complete answer leaves in writes of MAX_DATA_FRAME_BYTES.
    const queue = (frame: Frame) => {
      signal.throwIfAborted();
      sink.queue(frame);
    };
    // A requester that stops reading for longer than four heartbeats is gone as far as this node is concerned.
    const flush = async () => {
      signal.throwIfAborted();
      bounds.sent();
      if (headQueued) headSent = true;
      await sink.flush(signal);
    };
    // Closed in `finally` unless read to its end, also when the head could not be sent: the handler's cleanup
    // (slot, quota, upstream request) hangs on it.
    let body: AsyncIterator<Uint8Array> | undefined;
    let bodyDone = false;
    try {
      const response = await handler(request, { peerId, signal });
      body = response.body[Symbol.asyncIterator]();
      queue({ type: 'head', value: response.head });
      headQueued = true;
      for (let next = await body.next(); !next.done; next = await body.next()) {
        const chunk = next.value;
        for (let offset = 0; offset < chunk.byteLength; ) {
          // What is queued goes out before waiting for credit: the requester grants it only for what it has read.
          if (sink.available <= 0) await flush();
          // On 2.0.0 this waits for the requester's credit: the body is pulled no faster than the requester reads.
          const room = Math.min(MAX_DATA_FRAME_BYTES, await sink.room(signal));
          queue({ type: 'data', value: chunk.subarray(offset, offset + room) });
          offset += room;
          if (request.stream || sink.queuedBytes >= MAX_DATA_FRAME_BYTES) await flush();
        }
      }
      bodyDone = true;
      queue({ type: 'trailer', value: await response.trailer() });
      await flush();
      await sink.finish(signal);
    } catch (err) {
      if (sink.cancelled.aborted) {
        sink.reset(new StreamClosedError());
        return;
      }
      this.#options.logger.info({ peer: peerId, requestId: request.id, err: (err as Error).message }, 'mesh: forwarded request failed');
      // Before the head the requester can still go elsewhere: say so plainly (no internals) instead of resetting.
      if (!headSent && !signal.aborted) await sink.refuse('unavailable', 'the serving node failed before answering');
      else sink.reset(err instanceof Error ? err : new Error('forward failed'));
    } finally {
      bounds.clear();
      if (body && !bodyDone) await body.return?.().catch(() => undefined);
    }
  }
}
