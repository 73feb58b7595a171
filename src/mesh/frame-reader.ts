import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';
import { decodeFrame, FrameError, type Frame } from './forward-frames.js';
import { Wakeup } from './wakeup.js';

/** Above this many unread bytes the stream is paused (yamux then stops granting send window to the remote). */
const HIGH_WATER_BYTES = 1024 * 1024;
const LOW_WATER_BYTES = 256 * 1024;
/** An unsigned varint for any length we accept fits in 5 bytes. */
const MAX_VARINT_BYTES = 5;

/**
 * Reads length-prefixed frames off a libp2p stream. Stream chunks are not messages (a frame may arrive split or
 * several at once), so bytes are buffered until a whole frame is there. The reader listens from construction on,
 * so data is never left unread (an unread stream is reset once its buffer fills), and it pauses the stream while
 * its consumer is slow so that memory stays bounded.
 */
export class FrameReader<T = Frame> {
  readonly #stream: Stream;
  readonly #maxFrameBytes: number;
  readonly #buffer = new Uint8ArrayList();
  #ended = false;
  #error: Error | undefined;
  readonly #wakeup = new Wakeup();

  readonly #onFrameLength: ((length: number) => void) | undefined;
  readonly #decode: (bytes: Uint8Array) => T;
  /** The length already announced to `onFrameLength` for the frame being assembled. */
  #announced: number | undefined;

  /**
   * `onFrameLength` hears each frame's declared length as soon as its prefix is in, before the rest is buffered
   * (the forward server reserves it against its byte budget and sets the frame's read deadline); throwing from it
   * fails the read. `decode` turns a frame body into a frame (1.0.0 frames by default; 2.0.0 sessions pass theirs).
   */
  constructor(stream: Stream, maxFrameBytes: number, options: { onFrameLength?: (length: number) => void; decode?: (bytes: Uint8Array) => T } = {}) {
    this.#stream = stream;
    this.#maxFrameBytes = maxFrameBytes;
    this.#onFrameLength = options.onFrameLength;
    this.#decode = options.decode ?? (decodeFrame as (bytes: Uint8Array) => T);
    stream.addEventListener('message', this.#onMessage);
    stream.addEventListener('end', this.#onEnd);
    stream.addEventListener('close', this.#onClose);
    if (stream.readableEnded) this.#ended = true;
  }

  readonly #onMessage = (evt: StreamMessageEvent): void => {
    this.#buffer.append(evt.data);
    // Pause only while nobody waits: a waiting reader needs these bytes to complete its frame.
    if (!this.#wakeup.waiting && this.#buffer.byteLength > HIGH_WATER_BYTES && this.#stream.readStatus === 'readable') this.#stream.pause();
    this.#notify();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };

  readonly #onClose = (evt: StreamCloseEvent): void => {
    if (evt.error) this.#error = evt.error;
    this.#ended = true;
    this.#notify();
  };

  #notify(): void {
    this.#wakeup.wake();
  }

  /** A complete frame already buffered, without waiting (undefined when none is); throws as `next` does on a bad one. */
  poll(): T | undefined {
    const frame = this.#takeFrame();
    if (frame && this.#stream.readStatus === 'paused' && this.#buffer.byteLength < LOW_WATER_BYTES) this.#stream.resume();
    return frame;
  }

  /** The next complete frame, or undefined once the remote closed its side cleanly between frames. */
  async next(signal?: AbortSignal): Promise<T | undefined> {
    for (;;) {
      const frame = this.poll();
      if (frame) return frame;
      if (this.#error) throw this.#error;
      if (this.#ended) {
        if (this.#buffer.byteLength > 0) throw new FrameError('stream ended inside a frame');
        return undefined;
      }
      signal?.throwIfAborted();
      // Resuming may deliver buffered bytes synchronously; the waker is set first so they are not missed.
      await this.#wakeup.wait(signal, () => {
        if (this.#stream.readStatus === 'paused') this.#stream.resume();
      });
    }
  }

  /** Stops listening; unread bytes are dropped (the stream is being closed or aborted anyway). */
  dispose(): void {
    this.#stream.removeEventListener('message', this.#onMessage);
    this.#stream.removeEventListener('end', this.#onEnd);
    this.#stream.removeEventListener('close', this.#onClose);
    this.#notify();
  }

  #takeFrame(): T | undefined {
    let length = 0;
    let shift = 0;
    let offset = 0;
    for (;;) {
      if (offset >= this.#buffer.byteLength) return undefined;
      if (offset >= MAX_VARINT_BYTES) throw new FrameError('frame length prefix too long');
      const byte = this.#buffer.get(offset++);
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    if (length > this.#maxFrameBytes) throw new FrameError(`frame of ${length} bytes exceeds ${this.#maxFrameBytes}`);
    if (this.#announced === undefined) {
      this.#announced = length;
      this.#onFrameLength?.(length);
    }
    if (this.#buffer.byteLength < offset + length) return undefined;
    this.#announced = undefined;
    const body = this.#buffer.subarray(offset, offset + length);
    this.#buffer.consume(offset + length);
    return this.#decode(body);
  }
}
