import type { Stream } from '@libp2p/interface';
import type { Logger } from 'pino';
import {
  decodeSessionFrame, encodeSessionFrame, FrameBatch, FrameType, INITIAL_CREDIT_BYTES, MAX_SESSION_REQUEST_FRAME_BYTES, SessionFrameError,
  type ForwardRequestFrame, type Frame, type RefusalCode, type SessionFrame,
} from './forward-frames.js';
import type { ResponseSink } from './forward-server.js';
import { FrameReader } from './frame-reader.js';
import { Wakeup } from './wakeup.js';

/** What the forward server lends a session: its admission, read budget and serving logic, shared with 1.0.0. */
export interface SessionServerOptions {
  maxRequestBytes: number;
  requestTimeoutMs: number;
  requestMinBytesPerSecond?: number;
  /** A requester that grants no credit (or does not read the session) for this long is given up on. */
  stallMs: number;
  logger: Logger;
  admit: (peerId: string) => (() => void) | { code: RefusalCode; message: string };
  reserve: (peerId: string, length: number) => boolean;
  unreserve: (peerId: string, length: number) => void;
  serve: (sink: ResponseSink, request: ForwardRequestFrame, peerId: string) => Promise<void>;
}

class SessionClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionClosedError';
  }
}

class RequesterStalledError extends Error {
  constructor(ms: number) {
    super(`the requester granted no credit for ${ms} ms`);
    this.name = 'RequesterStalledError';
  }
}

/** One request on a session, as the serving side sees it: the credit it may still use, and its cancellation. */
class SessionSink implements ResponseSink {
  readonly #session: ServerSession;
  readonly sid: number;
  #credit = INITIAL_CREDIT_BYTES;
  readonly #creditGranted = new Wakeup();
  readonly #cancel = new AbortController();
  readonly #batch = new FrameBatch();
  /** Set once the answer is over (trailer, reset or refusal sent): later frames from the requester are ignored. */
  done = false;

  constructor(session: ServerSession, sid: number) {
    this.#session = session;
    this.sid = sid;
  }

  get cancelled(): AbortSignal {
    return this.#cancel.signal;
  }

  get needsDrain(): boolean {
    return this.#session.needsDrain;
  }

  cancel(reason: Error): void {
    this.#cancel.abort(reason);
    this.#creditGranted.wake();
  }

  grant(bytes: number): void {
    this.#credit += bytes;
    this.#creditGranted.wake();
  }

  queue(frame: Frame): void {
    if (frame.type === 'data') this.#credit -= frame.value.byteLength;
    this.#batch.add(encodeSessionFrame(this.sid, frame));
  }

  get queuedBytes(): number {
    return this.#batch.byteLength;
  }

  get available(): number {
    return this.#credit;
  }

  async flush(signal: AbortSignal): Promise<void> {
    const bytes = this.#batch.take();
    if (bytes) await this.#session.write(bytes, signal);
  }

  async room(signal: AbortSignal): Promise<number> {
    if (this.#credit > 0) return this.#credit;
    const stalled = AbortSignal.timeout(this.#session.stallMs);
    const bound = AbortSignal.any([signal, stalled]);
    while (this.#credit <= 0) {
      await this.#creditGranted.wait(bound).catch((err: unknown) => {
        throw stalled.aborted && !signal.aborted ? new RequesterStalledError(this.#session.stallMs) : err;
      });
    }
    return this.#credit;
  }

  async finish(): Promise<void> {
    this.done = true;
  }

  reset(): void {
    this.#batch.take();
    if (this.done) return;
    this.done = true;
    this.#session.send(encodeSessionFrame(this.sid, { type: 'reset' }));
  }

  async refuse(code: RefusalCode, message: string): Promise<void> {
    this.#batch.take();
    if (this.done) return;
    this.done = true;
    this.#session.send(encodeSessionFrame(this.sid, { type: 'refusal', value: { code, message } }));
  }
}

/** The serving side of one 2.0.0 stream: reads the requester's frames, and serves each REQUEST as 1.0.0 would. */
class ServerSession {
  readonly #stream: Stream;
  readonly #peerId: string;
  readonly #options: SessionServerOptions;
  readonly #requests = new Map<number, SessionSink>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #reader: FrameReader<{ sid: number; frame: SessionFrame }>;
  /** Aborted when a frame misses its read deadline or the session fails: the whole stream is reset. */
  readonly #failed = new AbortController();
  #frameTimer: NodeJS.Timeout | undefined;
  /** The declared length reserved for the frame being read, and whether it fit in the read budget. */
  #reserved = 0;
  #overBudget = false;

  constructor(stream: Stream, peerId: string, options: SessionServerOptions) {
    this.#stream = stream;
    this.#peerId = peerId;
    this.#options = options;
    // A REQUEST on a session is at most MAX_SESSION_REQUEST_FRAME_BYTES (a larger one goes on its own 1.0.0 stream),
    // plus the type byte and the session id.
    this.#reader = new FrameReader(stream, Math.min(options.maxRequestBytes, MAX_SESSION_REQUEST_FRAME_BYTES) + 6, {
      decode: decodeSessionFrame,
      onFrameLength: (length) => this.#frameStarted(length),
    });
    // The stream closing (the connection went down, or libp2p is stopping) ends every request on it at once.
    stream.addEventListener('close', this.#onClose, { once: true });
  }

  readonly #onClose = (): void => {
    for (const sink of this.#requests.values()) sink.cancel(new SessionClosedError('the session closed'));
  };

  get stallMs(): number {
    return this.#options.stallMs;
  }

  get needsDrain(): boolean {
    return this.#stream.writableNeedsDrain;
  }

  /** Queues bytes on the shared stream (used for refusals and resets, which must not wait). */
  send(bytes: ReturnType<typeof encodeSessionFrame>): void {
    if (this.#stream.writeStatus !== 'writable') return;
    this.#stream.send(bytes);
  }

  /**
   * Writes a frame, then waits while the stream is full. The session is read by one requester process for all its
   * requests, so a stream that stays full for stallMs means the requester stopped reading it: the session is reset.
   */
  async write(bytes: ReturnType<typeof encodeSessionFrame>, signal: AbortSignal): Promise<void> {
    if (this.#stream.writeStatus !== 'writable') throw new SessionClosedError('the session is closed');
    if (this.#stream.send(bytes)) return;
    const stalled = AbortSignal.timeout(this.#options.stallMs);
    try {
      await this.#stream.onDrain({ signal: AbortSignal.any([signal, stalled, this.#failed.signal]) });
    } catch (err) {
      if (stalled.aborted) this.#fail(new SessionClosedError(`the requester read nothing of the session for ${this.#options.stallMs} ms`));
      throw err;
    }
  }

  async run(): Promise<void> {
    try {
      for (;;) {
        let item: { sid: number; frame: SessionFrame } | undefined;
        try {
          item = await this.#reader.next(this.#failed.signal);
        } catch (err) {
          // A frame that is whole but unusable fails only the request it names; anything else breaks the framing.
          if (err instanceof SessionFrameError && err.sid !== undefined) {
            this.#frameDone();
            this.#malformed(err.sid, err);
            continue;
          }
          throw err;
        }
        this.#frameDone();
        if (!item) break;
        this.#dispatch(item.sid, item.frame);
      }
      // The requester closed its side: it sends no more requests; those in flight are answered, then the stream closes.
      await Promise.allSettled([...this.#tasks]);
      await this.#stream.close({ signal: AbortSignal.timeout(this.#options.stallMs) }).catch(() => this.#stream.abort(new SessionClosedError('close timed out')));
    } catch (err) {
      this.#options.logger.debug({ peer: this.#peerId, err: (err as Error).message }, 'mesh: forward session closed');
      this.#fail(err instanceof Error ? err : new SessionClosedError('session failed'));
    } finally {
      clearTimeout(this.#frameTimer);
      this.#stream.removeEventListener('close', this.#onClose);
      this.#reader.dispose();
      this.#options.unreserve(this.#peerId, this.#reserved);
      this.#reserved = 0;
    }
  }

  /** Resets the stream and cancels every request on it (the requester sees them all end without a trailer). */
  #fail(err: Error): void {
    if (!this.#failed.signal.aborted) this.#failed.abort(err);
    for (const sink of this.#requests.values()) sink.cancel(err);
    this.#stream.abort(err);
  }

  /** A frame's length prefix is in: reserve it against the read budget and give it its read deadline. */
  #frameStarted(length: number): void {
    this.#overBudget = !this.#options.reserve(this.#peerId, length);
    this.#reserved = this.#overBudget ? 0 : length;
    const { requestTimeoutMs, requestMinBytesPerSecond } = this.#options;
    const ms = requestTimeoutMs + (requestMinBytesPerSecond ? (length / requestMinBytesPerSecond) * 1000 : 0);
    this.#frameTimer = setTimeout(() => this.#fail(new SessionClosedError(`a frame of ${length} bytes did not arrive within ${Math.round(ms)} ms`)), ms);
  }

  #frameDone(): void {
    clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
    this.#options.unreserve(this.#peerId, this.#reserved);
    this.#reserved = 0;
  }

  #dispatch(sid: number, frame: SessionFrame): void {
    const open = this.#requests.get(sid);
    switch (frame.type) {
      case 'request':
        if (open) throw new SessionClosedError(`session id ${sid} is already in use`);
        this.#start(sid, frame.value, this.#overBudget);
        return;
      case 'credit':
        open?.grant(frame.value);
        return;
      case 'reset':
        open?.cancel(new SessionClosedError('the requester cancelled the request'));
        return;
      case 'unknown':
        return; // room for extensions: a frame type this node does not know is skipped
      default:
        // A server → requester frame sent the wrong way fails the request it names.
        this.#malformed(sid, new SessionFrameError(`unexpected ${frame.type} frame from the requester`, sid));
    }
  }

  /** An unusable frame for `sid`: an open request is cancelled and reset, a request that could not be read refused. */
  #malformed(sid: number, err: SessionFrameError): void {
    const open = this.#requests.get(sid);
    this.#options.logger.debug({ peer: this.#peerId, sid, err: err.message }, 'mesh: malformed session frame');
    if (open) {
      open.cancel(err);
      open.reset();
    } else if (err.type === FrameType.request) {
      this.send(encodeSessionFrame(sid, { type: 'refusal', value: { code: 'bad_request', message: 'expected one well-formed request frame' } }));
    }
  }

  #start(sid: number, request: ForwardRequestFrame, overBudget: boolean): void {
    if (overBudget) {
      this.send(encodeSessionFrame(sid, { type: 'refusal', value: { code: 'busy', message: 'this node is reading as many request bytes as it can hold; try again shortly' } }));
      return;
    }
    const admitted = this.#options.admit(this.#peerId);
    if (typeof admitted !== 'function') {
      this.send(encodeSessionFrame(sid, { type: 'refusal', value: admitted }));
      return;
    }
    const sink = new SessionSink(this, sid);
    this.#requests.set(sid, sink);
    const task = this.#options
      .serve(sink, request, this.#peerId)
      .catch((err: Error) => this.#options.logger.warn({ peer: this.#peerId, requestId: request.id, err: err.message }, 'mesh: forwarded request failed'))
      .finally(() => {
        sink.done = true;
        this.#requests.delete(sid);
        this.#tasks.delete(task);
        admitted();
      });
    this.#tasks.add(task);
  }
}

/**
 * The serving side of `/meshgate/forward/2.0.0` (protocol/forward.md, "Version 2.0.0"): each stream is a session
 * of one requester, carrying its requests side by side. Every request gets the checks, slots, read budget,
 * heartbeats and receipts of 1.0.0; credit per request keeps a slow reader of one answer from holding up the others
 * or from making this node buffer it.
 */
export class ForwardSessionServer {
  readonly #options: SessionServerOptions;

  constructor(options: SessionServerOptions) {
    this.#options = options;
  }

  handle(stream: Stream, peerId: string): Promise<void> {
    return new ServerSession(stream, peerId, this.#options).run();
  }
}
