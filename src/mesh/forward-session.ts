import type { Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { ForwardChannel } from './forward-client.js';
import {
  decodeSessionFrame, encodeRequestFrame, encodeSessionFrame, FORWARD_PROTOCOL, FORWARD_PROTOCOL_V2, INITIAL_CREDIT_BYTES, MAX_RESPONSE_FRAME_BYTES,
  MAX_SESSION_ID, MAX_SESSION_REQUEST_FRAME_BYTES, SessionFrameError, type Frame, type SessionFrame,
} from './forward-frames.js';
import { FrameReader } from './frame-reader.js';
import { Wakeup } from './wakeup.js';

/** Credit is granted back once this much of a request's window has been read (fewer, larger CREDIT frames). */
const CREDIT_GRANT_BYTES = INITIAL_CREDIT_BYTES / 4;
/** Frames other than DATA a request may have waiting unread (DATA is bounded by credit); more is a misbehaving peer. */
const MAX_QUEUED_CONTROL_FRAMES = 32;
/** A peer that answered a 2.0.0 offer with 1.0.0 is asked in 1.0.0 directly for this long (it may be upgraded later). */
const V1_ONLY_MS = 5 * 60_000;
/** How long closing a session's write side may take once the serving node closed its own. */
const CLOSE_TIMEOUT_MS = 5_000;
/** Room for the type byte and the session id beside a REQUEST payload on a session. */
const SESSION_FRAME_OVERHEAD = 6;

class SessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionError';
  }
}

/** A request with its own 1.0.0 stream: the request frame, then a half-close; cancelling resets the stream. */
class StreamChannel implements ForwardChannel {
  readonly #stream: Stream;
  readonly #reader: FrameReader;

  constructor(stream: Stream) {
    this.#stream = stream;
    this.#reader = new FrameReader(stream, MAX_RESPONSE_FRAME_BYTES);
  }

  async send(payload: Uint8Array, signal: AbortSignal): Promise<void> {
    this.#stream.send(encodeRequestFrame(payload));
    // Half-close: the request is complete; the serving node reads the rest of its side as cancellation only.
    await this.#stream.close({ signal });
  }

  next(signal: AbortSignal): Promise<Frame | undefined> {
    return this.#reader.next(signal);
  }

  poll(): Frame | undefined {
    return this.#reader.poll();
  }

  abort(err: Error): void {
    this.#stream.abort(err);
  }

  release(): void {
    this.#reader.dispose();
  }
}

/**
 * A request on a 2.0.0 session. Its frames are queued by the session's reader as they come (never pausing the
 * shared stream, so other requests keep flowing); DATA is bounded by the credit this side granted, which it grants
 * again only as its consumer reads — a slow consumer slows its own request and nobody else's.
 */
class SessionChannel implements ForwardChannel {
  readonly #session: ClientSession;
  readonly sid: number;
  readonly #queue: (Frame | { type: 'reset' })[] = [];
  #controlFrames = 0;
  /** DATA bytes the server may still send: the initial window plus grants, minus what arrived. */
  #window = INITIAL_CREDIT_BYTES;
  /** DATA bytes read by the consumer and not yet granted back. */
  #ungranted = 0;
  readonly #wakeup = new Wakeup();
  #error: Error | undefined;
  #ended = false;
  /** The server ended the request (trailer, refusal or reset): nothing to cancel any more. */
  #serverDone = false;
  #aborted = false;

  constructor(session: ClientSession, sid: number) {
    this.#session = session;
    this.sid = sid;
  }

  async send(payload: Uint8Array, signal: AbortSignal): Promise<void> {
    await this.#session.write(encodeRequestFrame(payload, this.sid), signal);
  }

  poll(): Frame | undefined {
    const frame = this.#queue.shift();
    if (!frame) return undefined;
    if (frame.type === 'reset') throw new SessionError('the serving node reset the request');
    if (frame.type === 'data') this.#consumed(frame.value.byteLength);
    else this.#controlFrames--;
    return frame;
  }

  async next(signal: AbortSignal): Promise<Frame | undefined> {
    for (;;) {
      const frame = this.poll();
      if (frame) return frame;
      if (this.#error) throw this.#error;
      if (this.#ended) return undefined;
      signal.throwIfAborted();
      await this.#wakeup.wait(signal);
    }
  }

  #consumed(bytes: number): void {
    this.#ungranted += bytes;
    if (this.#ungranted < CREDIT_GRANT_BYTES || this.#serverDone) return;
    this.#window += this.#ungranted;
    this.#session.send(encodeSessionFrame(this.sid, { type: 'credit', value: this.#ungranted }));
    this.#ungranted = 0;
  }

  /** A frame for this request, from the session's reader. */
  deliver(frame: SessionFrame): void {
    if (this.#serverDone || this.#error) return;
    switch (frame.type) {
      case 'unknown':
      case 'credit':
      case 'request':
        return; // credit and requests go the other way; unknown types are room for extensions
      case 'data':
        this.#window -= frame.value.byteLength;
        if (this.#window < 0) return this.#violation('the serving node sent more than its credit');
        break;
      case 'heartbeat':
        // Only the wake-up matters (the requester's idle timer): heartbeats waiting in a row are one.
        if (this.#queue.at(-1)?.type === 'heartbeat') return this.#notify();
        break;
      default:
        if (frame.type !== 'head') this.#serverDone = true; // trailer, refusal, reset: the request is over there
    }
    if (frame.type !== 'data' && ++this.#controlFrames > MAX_QUEUED_CONTROL_FRAMES) return this.#violation('the serving node sent too many frames');
    this.#queue.push(frame);
    if (this.#serverDone) this.#session.forget(this.sid);
    this.#notify();
  }

  /** The serving node broke the protocol for this request only: it is reset, the others on the session go on. */
  #violation(message: string): void {
    this.fail(new SessionError(message));
    this.abort(this.#error!);
  }

  /** Ends the request with `err` (the session broke, or a frame for it was unusable). */
  fail(err: Error): void {
    this.#error ??= err;
    this.#notify();
  }

  /** The session ended cleanly: a request that had not finished ends without a trailer (a broken response). */
  end(): void {
    this.#ended = true;
    this.#notify();
  }

  #notify(): void {
    this.#wakeup.wake();
  }

  abort(err: Error): void {
    this.#error ??= err;
    this.#session.forget(this.sid);
    if (this.#serverDone || this.#aborted) return;
    this.#aborted = true;
    this.#session.send(encodeSessionFrame(this.sid, { type: 'reset' }));
  }

  release(): void {
    this.#session.forget(this.sid);
  }
}

/** The requesting side of one 2.0.0 stream: hands out session ids and routes each frame to its request. */
class ClientSession {
  readonly #stream: Stream;
  readonly #reader: FrameReader<{ sid: number; frame: SessionFrame }>;
  readonly #requests = new Map<number, SessionChannel>();
  #nextSid = 1;
  #closed = false;

  constructor(stream: Stream, onClosed: (session: ClientSession) => void) {
    this.#stream = stream;
    this.#reader = new FrameReader(stream, MAX_RESPONSE_FRAME_BYTES + SESSION_FRAME_OVERHEAD, { decode: decodeSessionFrame });
    void this.#run().finally(() => onClosed(this));
  }

  get closed(): boolean {
    return this.#closed || this.#stream.writeStatus !== 'writable';
  }

  /** A new request on this session, or undefined once its ids are used up (the caller opens another session). */
  channel(): SessionChannel | undefined {
    if (this.closed || this.#nextSid > MAX_SESSION_ID) return undefined;
    const channel = new SessionChannel(this, this.#nextSid++);
    this.#requests.set(channel.sid, channel);
    return channel;
  }

  forget(sid: number): void {
    this.#requests.delete(sid);
  }

  /** Queues a small frame (CREDIT, RESET) without waiting: they must go out even while the stream is full. */
  send(bytes: ReturnType<typeof encodeSessionFrame>): void {
    if (!this.closed) this.#stream.send(bytes);
  }

  /** Writes a REQUEST frame, waiting while the stream is full (backpressure towards the asking node's clients). */
  async write(bytes: ReturnType<typeof encodeSessionFrame>, signal: AbortSignal): Promise<void> {
    if (this.closed) throw new SessionError('the forward session is closed');
    if (!this.#stream.send(bytes)) await this.#stream.onDrain({ signal });
  }

  close(err: Error): void {
    this.#closed = true;
    this.#stream.abort(err);
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        let item: { sid: number; frame: SessionFrame } | undefined;
        try {
          item = await this.#reader.next();
        } catch (err) {
          // A whole frame that cannot be used fails the request it names; a broken length prefix ends the session.
          if (err instanceof SessionFrameError && err.sid !== undefined) {
            const channel = this.#requests.get(err.sid);
            channel?.fail(err);
            channel?.abort(err);
            continue;
          }
          throw err;
        }
        if (!item) break;
        this.#requests.get(item.sid)?.deliver(item.frame);
      }
      // The serving node closed its side (it is stopping): nothing more comes; close ours so the stream can end.
      this.#closed = true;
      for (const channel of this.#requests.values()) channel.end();
      await this.#stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch((err: Error) => this.#stream.abort(err));
    } catch (err) {
      this.#closed = true;
      const error = err instanceof Error ? err : new SessionError('forward session failed');
      for (const channel of this.#requests.values()) channel.fail(error);
      this.#stream.abort(error);
    } finally {
      this.#requests.clear();
      this.#reader.dispose();
    }
  }
}

export interface ForwardChannelsOptions {
  libp2p: Libp2p;
  /** false: every request gets a 1.0.0 stream of its own (mesh.forward_sessions = false). */
  sessions: boolean;
  clock?: () => number;
}

/**
 * The requester's ways to its peers: one long-lived 2.0.0 session per peer, opened on first use and shared by every
 * request to that peer; 1.0.0 streams for a peer that answers the 2.0.0 offer with 1.0.0 (multistream-select picks
 * the first protocol the peer speaks) and for a request too large for a session frame.
 */
export class ForwardChannels {
  readonly #libp2p: Libp2p;
  readonly #useSessions: boolean;
  readonly #clock: () => number;
  readonly #sessions = new Map<string, ClientSession>();
  /** Sessions being opened: requests arriving meanwhile wait for this one instead of opening their own. */
  readonly #opening = new Map<string, Promise<unknown>>();
  readonly #v1OnlyUntil = new Map<string, number>();

  constructor(options: ForwardChannelsOptions) {
    this.#libp2p = options.libp2p;
    this.#useSessions = options.sessions;
    this.#clock = options.clock ?? Date.now;
  }

  /** Open 2.0.0 sessions (one per peer). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /**
   * A way to `peerId` for one request. `dialTimeoutMs` bounds opening a stream; it becomes a timer only when a stream
   * is opened (a request on a live session takes its id at once, and a timer armed for it would fire later all the same).
   */
  async open(peerId: string, requestBytes: number, signal: AbortSignal, dialTimeoutMs: number): Promise<ForwardChannel> {
    const dialSignal = () => AbortSignal.any([signal, AbortSignal.timeout(dialTimeoutMs)]);
    if (!this.#useSessions || requestBytes + SESSION_FRAME_OVERHEAD > MAX_SESSION_REQUEST_FRAME_BYTES || this.#v1Only(peerId)) return this.#streamChannel(peerId, dialSignal());
    const live = this.#sessions.get(peerId)?.channel();
    if (live) return live;
    const opening = this.#opening.get(peerId);
    if (opening) {
      await opening.catch(() => undefined);
      const joined = this.#sessions.get(peerId)?.channel();
      if (joined) return joined;
      if (this.#v1Only(peerId)) return this.#streamChannel(peerId, dialSignal());
    }
    const dial = this.#dial(peerId, dialSignal());
    this.#opening.set(peerId, dial);
    try {
      return await dial;
    } finally {
      if (this.#opening.get(peerId) === dial) this.#opening.delete(peerId);
    }
  }

  /** Resets every session (the node is stopping). */
  closeAll(): void {
    for (const session of this.#sessions.values()) session.close(new SessionError('the node is stopping'));
    this.#sessions.clear();
  }

  async #dial(peerId: string, signal: AbortSignal): Promise<ForwardChannel> {
    const stream = await this.#libp2p.dialProtocol(peerIdFromString(peerId), [FORWARD_PROTOCOL_V2, FORWARD_PROTOCOL], { signal });
    if (stream.protocol !== FORWARD_PROTOCOL_V2) {
      this.#v1OnlyUntil.set(peerId, this.#clock() + V1_ONLY_MS);
      return new StreamChannel(stream);
    }
    const session = new ClientSession(stream, (closed) => {
      if (this.#sessions.get(peerId) === closed) this.#sessions.delete(peerId);
    });
    // A session that ran out of ids (or lost a race with another opening) keeps serving its requests in flight.
    this.#sessions.set(peerId, session);
    return session.channel()!;
  }

  async #streamChannel(peerId: string, signal: AbortSignal): Promise<ForwardChannel> {
    return new StreamChannel(await this.#libp2p.dialProtocol(peerIdFromString(peerId), FORWARD_PROTOCOL, { signal }));
  }

  #v1Only(peerId: string): boolean {
    const until = this.#v1OnlyUntil.get(peerId);
    if (until === undefined) return false;
    if (until > this.#clock()) return true;
    this.#v1OnlyUntil.delete(peerId);
    return false;
  }
}
