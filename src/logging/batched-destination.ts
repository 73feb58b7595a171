import { writeSync } from 'node:fs';
import pino from 'pino';

/** What a batch is written to: pino's asynchronous destination (sonic-boom), or anything with the same three members. */
export interface LineSink {
  write(chunk: string): unknown;
  flushSync(): void;
  readonly fd: number;
}

/** How long a log line may wait to be written with others: short enough for `tail -f`, long enough to batch. */
export const LOG_FLUSH_MS = 50;
/**
 * The most a batch holds, in bytes: PIPE_BUF, the size up to which a write to a pipe is atomic (POSIX). Worker processes
 * share the primary's stderr, often a pipe (a container runtime, journald): batches this small never interleave
 * mid-line with another process's. A single longer line is written on its own, as before.
 */
export const MAX_BATCH_BYTES = 4096;

const alive = new Set<WeakRef<BatchedDestination>>();
// One exit handler for every batched destination, registered when this module loads: before pino registers its own
// (for the asynchronous destination under each one), so what is pending here follows that destination's backlog.
process.once('exit', () => {
  for (const ref of alive) ref.deref()?.flushOnExit();
});

/**
 * A pino destination that writes its lines in batches: a line waits at most `flushMs` (less when 4 KB are pending)
 * and the batch goes out in one asynchronous write. pino's own asynchronous destination writes each line on its own —
 * at low concurrency a thread-pool hop, a system call and a thread wake-up per request, which at one connection cost
 * more CPU than formatting the line. `flush()` writes what is pending now (the logger calls it after a warning or an
 * error); at exit whatever is pending is written synchronously.
 */
export class BatchedDestination {
  #pending = '';
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;

  /** Lines to `fd` (2: stderr) through pino's asynchronous destination. */
  static forFd(fd: number, flushMs = LOG_FLUSH_MS): BatchedDestination {
    // maxWrite: the destination joins what is queued behind a write in flight into writes no larger than this either.
    return new BatchedDestination(pino.destination({ fd, sync: false, maxWrite: MAX_BATCH_BYTES }) as unknown as LineSink, flushMs);
  }

  constructor(private readonly sink: LineSink, private readonly flushMs = LOG_FLUSH_MS) {
    alive.add(new WeakRef(this));
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line);
    if (this.#pendingBytes + bytes > MAX_BATCH_BYTES) this.flush();
    this.#pending += line;
    this.#pendingBytes += bytes;
    // Unref'd: a pending line never keeps the process alive; the exit handler writes it.
    this.#timer ??= setTimeout(() => this.flush(), this.flushMs).unref();
  }

  /** Hands what is pending to the asynchronous write now (`logger.flush(cb)` calls it with a callback). */
  flush(done?: (err?: Error) => void): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending !== '') {
      const batch = this.#pending;
      this.#pending = '';
      this.#pendingBytes = 0;
      this.sink.write(batch);
    }
    done?.();
  }

  /** At exit (no event loop left): the sink's backlog, then what is pending here, written synchronously. */
  flushOnExit(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === '') return;
    const batch = this.#pending;
    this.#pending = '';
    this.#pendingBytes = 0;
    try {
      this.sink.flushSync();
      writeSync(this.sink.fd, batch);
    } catch {
      // A closed or broken log destination at exit: there is no one left to tell.
    }
  }
}
