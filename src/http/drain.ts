import type { Server, ServerResponse } from 'node:http';

/**
 * The HTTP exchanges a server is in the middle of, and the keep-alive sockets it must let go of when it closes.
 *
 * `server.close()` stops accepting connections and closes the sockets that are idle at that moment, but a socket that
 * was busy then stays open after its last response until the client or `keepAliveTimeout` (72 s in fastify) closes
 * it, and `close()` waits for it: a node with keep-alive clients would wait out its whole grace period. So while
 * draining, every response that has not started is sent with `Connection: close`, and every exchange that ends
 * closes the sockets that became idle (an SSE stream's socket among them, once the stream is done).
 */
export class HttpDrain {
  /**
   * The exchanges in flight, each in a slot of its own (`undefined` once it ended), and the free slots. Not a Set: a
   * Set that a member joins and leaves per request rebuilds its hash table every few dozen requests, and V8 links each
   * table it leaves behind to the next one (for iterators) while the old one still holds the members it had. Once one
   * such table was promoted to the old generation (it outlived two scavenges, as at a quiet moment), it is a root for
   * every scavenge until a mark-compact: it keeps the next table, that table the one after, and each the responses it
   * held and all they reach — under load 2.1–2.6 KB of every request promoted (README "Benchmarks", what is promoted).
   * An array's slot that is cleared holds nothing, and a grown array does not point to the one it replaced.
   */
  readonly #slots: (ServerResponse | undefined)[] = [];
  readonly #free: number[] = [];
  #inFlight = 0;
  #draining = false;

  constructor(private readonly server: Server) {}

  /** Exchanges whose response has not finished (streams included). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Follows one exchange until its response is done or its socket is gone. */
  track(res: ServerResponse): void {
    if (this.#draining) res.shouldKeepAlive = false;
    const slot = this.#free.pop() ?? this.#slots.length;
    this.#slots[slot] = res;
    this.#inFlight += 1;
    res.once('close', () => {
      this.#slots[slot] = undefined;
      this.#free.push(slot);
      this.#inFlight -= 1;
      // After 'close' the socket is detached from the response; on the next turn node counts it as idle.
      if (this.#draining) setImmediate(() => this.server.closeIdleConnections());
    });
  }

  /** Starts draining: idle keep-alive sockets are closed now, the others as their exchange ends. */
  start(): void {
    this.#draining = true;
    for (const res of this.#slots) if (res && !res.headersSent) res.shouldKeepAlive = false;
    this.server.closeIdleConnections();
  }
}
