import { GatewayError, type ErrorCode } from '../errors/index.js';
import { QuotaExceededError, type QuotaState } from '../policy/index.js';
import { RevokedDuringReserveError } from '../state/index.js';

/**
 * Calls and events between the primary process and one worker over the cluster IPC pipe (node:cluster, with
 * `serialization: "advanced"`, so values keep their types: `Infinity`, `Uint8Array`, nested objects).
 *
 * A call is answered exactly once: with its value, its error (rebuilt on this side as the same class, so callers
 * `instanceof` it as in one process), or — when the other side is gone or does not answer in `timeoutMs` — with
 * `primary_unavailable`, so whatever waited on the primary fails closed.
 */

/** What the channel needs of the pipe: `process` in a worker, a `cluster.Worker` in the primary. */
export interface IpcPort {
  send(message: unknown): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
}

/** An error as it crosses the pipe: enough to rebuild the class callers test for. */
interface WireError {
  name: string;
  message: string;
  code?: ErrorCode;
  retryAfter?: number;
  status?: number;
  headers?: Record<string, string>;
  state?: QuotaState;
}

type Message =
  | { meshgate: 'call'; id: number; op: string; args: unknown }
  | { meshgate: 'reply'; id: number; value?: unknown; error?: WireError }
  | { meshgate: 'event'; op: string; args: unknown };

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && typeof (value as { meshgate?: unknown }).meshgate === 'string';
}

function toWire(err: unknown): WireError {
  if (err instanceof QuotaExceededError) return { name: err.name, message: err.message, state: err.state };
  if (err instanceof GatewayError) return { name: err.name, message: err.message, code: err.code, retryAfter: err.retryAfter, status: err.status, headers: err.headers };
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, message: e.message };
}

function fromWire(wire: WireError): Error {
  if (wire.name === 'QuotaExceededError' && wire.state) return new QuotaExceededError(wire.state);
  if (wire.name === 'RevokedDuringReserveError') return new RevokedDuringReserveError();
  if (wire.name === 'GatewayError' && wire.code) return new GatewayError(wire.code, wire.message, { retryAfter: wire.retryAfter, status: wire.status, headers: wire.headers });
  const err = new Error(wire.message);
  err.name = wire.name;
  return err;
}

/** Seconds a client is told to wait when a worker lost its primary (a restarted node is back within about that). */
const PRIMARY_RETRY_AFTER_S = 2;

export function primaryUnavailable(reason: string): GatewayError {
  return new GatewayError('primary_unavailable', `This gateway's worker could not reach the process that owns its state (${reason}), so the request was refused rather than admitted without limits. Retry shortly.`, {
    retryAfter: PRIMARY_RETRY_AFTER_S,
  });
}

type Handler = (args: never) => unknown;

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

export class IpcChannel {
  readonly #port: IpcPort;
  readonly #timeoutMs: number;
  readonly #handlers = new Map<string, Handler>();
  readonly #listeners = new Map<string, Set<(args: never) => void>>();
  readonly #pending = new Map<number, PendingCall>();
  #nextId = 1;
  #closed = false;

  constructor(port: IpcPort, options: { timeoutMs: number }) {
    this.#port = port;
    this.#timeoutMs = options.timeoutMs;
    port.on('message', this.#onMessage);
    port.on('disconnect', this.#onDisconnect);
  }

  /**
   * Asks the other side to run `op`; rejects with its error, or with `primary_unavailable` if it is gone or silent.
   * `timeoutMs: null` waits as long as the other side is connected (for work that side bounds itself: a mesh forward).
   */
  call<T>(op: string, args: unknown = null, options: { timeoutMs?: number | null } = {}): Promise<T> {
    if (this.#closed) return Promise.reject(primaryUnavailable('the IPC channel is closed'));
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs === undefined ? this.#timeoutMs : options.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = timeoutMs === null ? undefined : setTimeout(() => {
        this.#pending.delete(id);
        reject(primaryUnavailable(`no answer to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      if (!this.#trySend({ meshgate: 'call', id, op, args })) this.#settle(id, undefined, { name: 'Error', message: '' }, 'the IPC channel is closed');
    });
  }

  /** One-way message (no answer); dropped silently when the other side is gone. */
  emit(op: string, args: unknown = null): void {
    this.#trySend({ meshgate: 'event', op, args });
  }

  /** Answers calls of `op`; a thrown error (or rejection) is the caller's rejection. */
  handle<A, R>(op: string, handler: (args: A) => R | Promise<R>): void {
    this.#handlers.set(op, handler as Handler);
  }

  /** Listens to events of `op`. */
  on<A>(op: string, listener: (args: A) => void): void {
    const set = this.#listeners.get(op) ?? new Set();
    set.add(listener as (args: never) => void);
    this.#listeners.set(op, set);
  }

  /** Stops listening; calls still waiting are rejected as unavailable. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#port.off('message', this.#onMessage);
    this.#port.off('disconnect', this.#onDisconnect);
    for (const id of [...this.#pending.keys()]) this.#settle(id, undefined, { name: 'Error', message: '' }, 'the IPC channel is closed');
  }

  #trySend(message: Message): boolean {
    if (this.#closed) return false;
    try {
      return this.#port.send(message);
    } catch {
      // ERR_IPC_CHANNEL_CLOSED: the other side exited between our check and the send.
      return false;
    }
  }

  #settle(id: number, value: unknown, error: WireError | undefined, unavailable?: string): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (unavailable) pending.reject(primaryUnavailable(unavailable));
    else if (error) pending.reject(fromWire(error));
    else pending.resolve(value);
  }

  readonly #onDisconnect = (): void => this.close();

  readonly #onMessage = (message: unknown): void => {
    if (!isMessage(message)) return;
    if (message.meshgate === 'reply') return this.#settle(message.id, message.value, message.error);
    if (message.meshgate === 'event') {
      for (const listener of this.#listeners.get(message.op) ?? []) listener(message.args as never);
      return;
    }
    const handler = this.#handlers.get(message.op);
    const { id } = message;
    if (!handler) {
      this.#trySend({ meshgate: 'reply', id, error: { name: 'Error', message: `no handler for ${message.op}` } });
      return;
    }
    void (async () => {
      try {
        const value = await handler(message.args as never);
        this.#trySend({ meshgate: 'reply', id, value });
      } catch (err) {
        this.#trySend({ meshgate: 'reply', id, error: toWire(err) });
      }
    })();
  };
}
