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
  readonly #active = new Set<ServerResponse>();
  #draining = false;

  constructor(private readonly server: Server) {}

  /** Exchanges whose response has not finished (streams included). */
  get inFlight(): number {
    return this.#active.size;
  }

  /** Follows one exchange until its response is done or its socket is gone. */
  track(res: ServerResponse): void {
    if (this.#draining) res.shouldKeepAlive = false;
    this.#active.add(res);
    res.once('close', () => {
      this.#active.delete(res);
      // After 'close' the socket is detached from the response; on the next turn node counts it as idle.
      if (this.#draining) setImmediate(() => this.server.closeIdleConnections());
    });
  }

  /** Starts draining: idle keep-alive sockets are closed now, the others as their exchange ends. */
  start(): void {
    this.#draining = true;
    for (const res of this.#active) if (!res.headersSent) res.shouldKeepAlive = false;
    this.server.closeIdleConnections();
  }
}
