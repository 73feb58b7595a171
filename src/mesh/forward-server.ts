import type { Connection, Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import { encodeFrame, MAX_DATA_FRAME_BYTES, type Frame, type ForwardHead, type ForwardRequestFrame, type ForwardTrailer, type RefusalCode } from './forward-frames.js';
import type { ByteBudget } from './byte-budget.js';
import { FrameReader } from './frame-reader.js';

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

  constructor(options: ForwardServerOptions) {
    this.#options = options;
  }

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
    const { maxConcurrent, maxConcurrentPerPeer = maxConcurrent } = this.#options;
    // Request frames can be large (the body travels in them): only as many are read at once as requests could be
    // served, so streams that send a length and then trickle (or never send) the rest cannot pile up buffers.
    if (this.#draining) {
      await this.#refuse(stream, 'busy', 'node is shutting down');
      return;
    }
    if (this.#reading + this.#inFlight >= maxConcurrent) {
      await this.#refuse(stream, 'busy', 'node is at capacity');
      return;
    }
    // One peer cannot take every slot: the others keep theirs whatever it opens.
    const held = this.#perPeer.get(peerId) ?? 0;
    if (held >= maxConcurrentPerPeer) {
      this.#options.logger.info({ peer: peerId, held }, 'mesh: peer at its limit of concurrent forwards');
      await this.#refuse(stream, 'busy', `this peer already has ${held} forwarded requests in flight here`);
      return;
    }
    this.#perPeer.set(peerId, held + 1);
    try {
      await this.#readAndServe(stream, peerId);
    } finally {
      const left = (this.#perPeer.get(peerId) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(peerId, left);
      else this.#perPeer.delete(peerId);
    }
  };

  /**
   * Reads the request frame within its deadline (the base timeout, then its declared length at the minimum rate)
   * and against the node's read budget, then serves it.
   */
  async #readAndServe(stream: Stream, peerId: string): Promise<void> {
    const { requestTimeoutMs, requestMinBytesPerSecond, requestBudget, maxRequestBytes } = this.#options;
    this.#reading++;
    const startedAt = Date.now();
    const tooSlow = new AbortController();
    const armDeadline = (ms: number) => setTimeout(() => tooSlow.abort(new Error('request frame not complete in time')), Math.max(0, ms));
    let deadline = armDeadline(requestTimeoutMs);
    let reserved = 0;
    const reader = new FrameReader(stream, maxRequestBytes, {
      onFrameLength: (length) => {
        if (requestBudget) {
          const held = this.#readingBytes.get(peerId) ?? 0;
          if (held + length > this.#peerBudgetShare(requestBudget) || !requestBudget.take(length)) throw new OverBudgetError(length);
          this.#readingBytes.set(peerId, held + length);
        }
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
      if (requestBudget && reserved > 0) {
        requestBudget.give(reserved);
        const left = (this.#readingBytes.get(peerId) ?? reserved) - reserved;
        if (left > 0) this.#readingBytes.set(peerId, left);
        else this.#readingBytes.delete(peerId);
      }
      this.#reading--;
    }
    if (!request) {
      this.#options.logger.debug({ peer: peerId, err: (failure as Error).message }, 'mesh: unreadable forward request');
      if (failure instanceof OverBudgetError) await this.#refuse(stream, 'busy', 'this node is reading as many request bytes as it can hold; try again shortly');
      else await this.#refuse(stream, 'bad_request', tooSlow.signal.aborted ? 'the request frame did not arrive in time' : 'expected one well-formed request frame');
      return;
    }
    const refusal = this.#check(request, peerId);
    if (refusal) {
      this.#options.logger.info({ peer: peerId, requestId: request.id, code: refusal.code }, 'mesh: forward refused');
      await this.#refuse(stream, refusal.code, refusal.message);
      return;
    }
    const handler = this.#options.handler();
    if (!handler) {
      await this.#refuse(stream, 'unavailable', 'this node serves no forwarded requests');
      return;
    }
    this.#inFlight++;
    try {
      await this.#serve(stream, request, peerId, handler);
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

  async #serve(stream: Stream, request: ForwardRequestFrame, peerId: string, handler: ForwardHandler): Promise<void> {
    const cancel = new AbortController();
    let finished = false;
    const onClose = () => {
      if (!finished) cancel.abort(new StreamClosedError());
    };
    stream.addEventListener('close', onClose);
    // However far the requester's deadline, a forwarded request holds a slot here for at most MAX_FORWARD_MS.
    const signal = AbortSignal.any([cancel.signal, AbortSignal.timeout(Math.min(MAX_FORWARD_MS, Math.max(1, request.deadline - Date.now())))]);
    let lastSentAt = Date.now();
    const send = async (frame: Frame) => {
      signal.throwIfAborted();
      lastSentAt = Date.now();
      // A requester that stops reading for longer than four heartbeats is gone as far as this node is concerned.
      if (!stream.send(encodeFrame(frame))) await stream.onDrain({ signal: AbortSignal.any([signal, AbortSignal.timeout(4 * this.#options.heartbeatMs)]) });
    };
    // Heartbeats keep the requester's idle timer (and any middlebox) from declaring a long generation dead.
    const heartbeat = setInterval(() => {
      if (Date.now() - lastSentAt < this.#options.heartbeatMs || stream.writableNeedsDrain) return;
      send({ type: 'heartbeat' }).catch(() => undefined);
    }, this.#options.heartbeatMs);
    let headSent = false;
    // Closed in `finally` unless read to its end, also when the head could not be sent: the handler's cleanup
    // (slot, quota, upstream request) hangs on it.
    let body: AsyncIterator<Uint8Array> | undefined;
    let bodyDone = false;
    try {
      const response = await handler(request, { peerId, signal });
      body = response.body[Symbol.asyncIterator]();
      await send({ type: 'head', value: response.head });
      headSent = true;
      for (let next = await body.next(); !next.done; next = await body.next()) {
        const chunk = next.value;
        for (let offset = 0; offset < chunk.byteLength; offset += MAX_DATA_FRAME_BYTES) {
          await send({ type: 'data', value: chunk.subarray(offset, offset + MAX_DATA_FRAME_BYTES) });
        }
      }
      bodyDone = true;
      await send({ type: 'trailer', value: await response.trailer() });
      finished = true;
      await stream.close({ signal });
    } catch (err) {
      finished = true;
      if (cancel.signal.aborted) {
        stream.abort(new StreamClosedError());
        return;
      }
      this.#options.logger.info({ peer: peerId, requestId: request.id, err: (err as Error).message }, 'mesh: forwarded request failed');
      // Before the head the requester can still go elsewhere: say so plainly (no internals) instead of resetting.
      if (!headSent && !signal.aborted) await this.#refuse(stream, 'unavailable', 'the serving node failed before answering');
      else stream.abort(err instanceof Error ? err : new Error('forward failed'));
    } finally {
      clearInterval(heartbeat);
      stream.removeEventListener('close', onClose);
      if (body && !bodyDone) await body.return?.().catch(() => undefined);
    }
  }
}
