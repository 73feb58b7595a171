import { jsonTextOf } from '../core/index.js';
import { MeshError, type MeshErrorCode } from './errors.js';
import { type ForwardHead, type ForwardRequestFrame, type ForwardTrailer, type Frame, type RefusalCode } from './forward-frames.js';
import type { ForwardChannels } from './forward-session.js';
import { ForwardWatchdog } from './forward-watchdog.js';
import type { PeerScores } from './peer-scores.js';

export interface ForwardResult {
  peerId: string;
  head: ForwardHead;
  /** Ends when the peer's body ends; throws MeshError if the stream breaks mid-way. */
  body: AsyncIterable<Uint8Array>;
  /** Resolves after the body has been read to its end; rejects with the body's MeshError. */
  trailer: Promise<ForwardTrailer>;
}

export interface ForwardClientOptions {
  /** Opens the way to a peer for one request: a session id on its 2.0.0 stream, or a 1.0.0 stream of its own. */
  channels: ForwardChannels;
  scores: PeerScores;
  isAllowed: (peerId: string) => boolean;
  /** Silence (no frame, not even a heartbeat) longer than this means the peer is gone. */
  idleTimeoutMs: number;
  /** Bound on opening a stream (a peer with no known address would otherwise wait on peer routing). */
  dialTimeoutMs: number;
  /** Bound on the wait for the head once the request is sent; heartbeats do not extend it. */
  headTimeoutMs: number;
}

const REFUSAL_ERRORS: Record<RefusalCode, MeshErrorCode> = {
  cycle: 'cycle',
  hop_limit: 'hop_limit',
  not_allowed: 'not_allowed',
  timeout: 'timeout',
  busy: 'peer_refused',
  bad_request: 'peer_refused',
  unavailable: 'peer_refused',
};

/** Refusals that say nothing bad about the peer: the request itself could not go there, or the peer is full now. */
const NEUTRAL_REFUSALS = new Set<RefusalCode>(['cycle', 'hop_limit', 'not_allowed', 'timeout', 'busy']);

/**
 * One request's way to the serving node: a 1.0.0 stream of its own, or a session id on the peer's 2.0.0 stream.
 * The exchange on it (request; heartbeats, head, body, trailer or a refusal) is the same.
 */
export interface ForwardChannel {
  /** Sends the request frame's JSON payload (1.0.0 then half-closes the stream). */
  send(payload: Uint8Array, signal: AbortSignal): Promise<void>;
  /** The next frame of the answer; undefined if it ended without one. */
  next(signal: AbortSignal): Promise<Frame | undefined>;
  /** A frame that has arrived already, without waiting (undefined when none has); throws as `next` does. */
  poll(): Frame | undefined;
  /** Ends the request early (1.0.0: resets the stream; 2.0.0: sends RESET): the serving node stops its work. */
  abort(err: Error): void;
  /** Stops listening for frames of this request. */
  release(): void;
}

const encoder = new TextEncoder();

/**
 * The REQUEST frame's payload, encoded once: its size picks the channel, and either version sends these bytes. A body
 * this node left as its client sent it goes as the client's own JSON text, not encoded again from its parsed value:
 * the payload is the same JSON object either way (protocol/forward.md, "Request").
 */
export function encodeRequestPayload(frame: ForwardRequestFrame): Uint8Array {
  const text = jsonTextOf(frame.body);
  if (text === undefined) return encoder.encode(JSON.stringify(frame));
  const members = JSON.stringify({ ...frame, body: undefined }); // every member but the body, which has its text
  // Buffer.from encodes a long joined string in about half the time TextEncoder takes here (measured on 100 KB).
  return Buffer.from(`${members.slice(0, -1)},"body":${text}}`, 'utf8');
}

class HeadTimeoutError extends Error {
  constructor(ms: number) {
    super(`no head within ${ms} ms`);
    this.name = 'HeadTimeoutError';
  }
}

class DeadlineError extends Error {
  constructor() {
    super('forward deadline reached');
    this.name = 'DeadlineError';
  }
}

/**
 * The requesting side of the forward protocol: request frame out, then head, body chunks and trailer in — over the
 * peer's 2.0.0 session or a 1.0.0 stream of its own, whichever `channels` opens. Aborting `signal` (or the deadline
 * passing) resets the request, which cancels the work on the serving node. Each forward is measured for the peer's
 * score and bans.
 */
export async function forwardToPeer(options: ForwardClientOptions, peerId: string, frame: ForwardRequestFrame, signal: AbortSignal): Promise<ForwardResult> {
  if (!options.isAllowed(peerId)) throw new MeshError('not_allowed', `peer ${peerId} is not on allow_peers`, { beforeFirstByte: true });
  if (frame.visited.includes(peerId)) throw new MeshError('cycle', `request already visited peer ${peerId}`, { beforeFirstByte: true });
  signal.throwIfAborted();
  const measurement = options.scores.begin(peerId);
  // Set once the channel is open: the caller's abort and every bound reset the request there (the serving node
  // stops its work), whichever ends it.
  let channel: ForwardChannel | undefined;
  // The caller's signal, the frame's deadline, the head's bound and the peer's silence as one signal and one timer,
  // cleared once the request is over (forward-watchdog.ts: a linked signal per bound cost several times more).
  const watchdog = new ForwardWatchdog(signal, {
    deadlineMs: Math.max(1, frame.deadline - Date.now()),
    headMs: options.headTimeoutMs,
    idleMs: options.idleTimeoutMs,
    reason: (bound) => (bound === 'deadline' ? new DeadlineError() : bound === 'head' ? new HeadTimeoutError(options.headTimeoutMs) : new Error('peer went silent')),
    onAbort: (reason) => channel?.abort(watchdog.expired === undefined ? new Error('forward cancelled') : (reason as Error)),
  });
  const timedOut = () => watchdog.expired === 'deadline';

  const failBeforeHead = (code: MeshErrorCode, message: string, cause?: unknown): MeshError => {
    if (signal.aborted) measurement.cancelled();
    else measurement.failed();
    return new MeshError(timedOut() ? 'timeout' : code, message, { beforeFirstByte: true, cause });
  };

  const request = encodeRequestPayload(frame);
  let opened: ForwardChannel;
  try {
    opened = await options.channels.open(peerId, request.byteLength, watchdog.signal, options.dialTimeoutMs);
  } catch (err) {
    watchdog.clear();
    if (signal.aborted) {
      measurement.cancelled();
      throw signal.reason;
    }
    throw failBeforeHead('peer_unreachable', `cannot open a forward stream to ${peerId}`, err);
  }
  channel = opened;
  const release = () => {
    watchdog.clear();
    opened.release();
  };
  // Silence while waiting for the next frame (heartbeats count) means the peer is gone. Only the wait is timed:
  // a slow consumer between reads is backpressure, not a dead peer.
  const nextFrame = async (): Promise<Frame | undefined> => {
    // Frames written together arrive together (a complete answer's head, body and trailer): those already here are
    // taken without arming a watchdog for a wait that does not happen.
    const ready = opened.poll();
    if (ready) return ready;
    watchdog.waitStarted();
    try {
      return await opened.next(watchdog.signal);
    } finally {
      watchdog.waitEnded();
    }
  };

  let head: ForwardHead;
  // A peer that sends heartbeats but never a head would hold the request until its deadline: the head has its own bound.
  watchdog.headAwaited();
  try {
    await opened.send(request, watchdog.signal);
    let first = await nextFrame();
    while (first?.type === 'heartbeat') first = await nextFrame();
    if (first?.type === 'refusal') {
      release();
      const code = first.value.code;
      if (NEUTRAL_REFUSALS.has(code)) measurement.cancelled();
      else measurement.failed();
      throw new MeshError(REFUSAL_ERRORS[code], `peer ${peerId} refused: ${first.value.message}`, { beforeFirstByte: true });
    }
    if (first?.type !== 'head') throw new Error(`expected a head frame, got ${first?.type ?? 'end of stream'}`);
    head = first.value;
    watchdog.headArrived();
  } catch (err) {
    if (err instanceof MeshError) throw err;
    release();
    opened.abort(err instanceof Error ? err : new Error('forward failed'));
    if (signal.aborted) {
      measurement.cancelled();
      throw signal.reason;
    }
    if (watchdog.expired === 'head') {
      measurement.failed();
      throw new MeshError('timeout', `peer ${peerId} sent no head within ${options.headTimeoutMs} ms`, { beforeFirstByte: true, cause: err });
    }
    throw failBeforeHead('stream_reset', `peer ${peerId} closed the stream before answering`, err);
  }
  measurement.head();
  if (head.status >= 500 || head.status === 429) measurement.failed();

  let resolveTrailer!: (t: ForwardTrailer) => void;
  let rejectTrailer!: (err: unknown) => void;
  const trailer = new Promise<ForwardTrailer>((resolve, reject) => {
    resolveTrailer = resolve;
    rejectTrailer = reject;
  });
  trailer.catch(() => undefined); // the caller may never look at it
  return { peerId, head, body: readBody(), trailer };

  async function* readBody(): AsyncGenerator<Uint8Array> {
    let delivered = false;
    let done = false;
    try {
      for (;;) {
        const next = await nextFrame();
        if (next?.type === 'data') {
          if (!delivered) measurement.firstByte();
          delivered = true;
          yield next.value;
        } else if (next?.type === 'trailer') {
          done = true;
          measurement.succeeded();
          resolveTrailer(next.value);
          return;
        } else if (next?.type !== 'heartbeat') {
          throw new Error(`expected body frames, got ${next?.type ?? 'end of stream'}`);
        }
      }
    } catch (err) {
      const aborted = signal.aborted;
      if (aborted) measurement.cancelled();
      else measurement.failed();
      const error = aborted
        ? signal.reason
        : new MeshError(timedOut() ? 'timeout' : 'stream_reset', `stream from peer ${peerId} broke mid-response`, { beforeFirstByte: !delivered, cause: err });
      rejectTrailer(error);
      throw error;
    } finally {
      release();
      if (!done) {
        // The consumer stopped early (or it failed): reset so the serving node stops generating.
        measurement.cancelled();
        rejectTrailer(new MeshError('stream_reset', 'response body was not read to its end', { beforeFirstByte: !delivered }));
        opened.abort(new Error('forward cancelled by the requester'));
      }
    }
  }
}
