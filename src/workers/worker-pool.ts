import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { IpcChannel } from './ipc-channel.js';
import { servePeerForwards } from './peer-bridge.js';
import type { PrimaryHub } from './primary-hub.js';
import type { PeerForwarder } from '../pipeline/peer-attempt.js';

/** Environment variable naming the primary's Unix socket in a worker process. */
export const PRIMARY_SOCKET_ENV = 'MESHGATE_PRIMARY_SOCKET';
/** A worker that keeps crashing is restarted at most this often per window; past it, its slot stays empty. */
export const RESTART_LIMIT = 5;
export const RESTART_WINDOW_MS = 60_000;
/** How long an IPC call may wait for the other side before it fails closed. */
export const IPC_TIMEOUT_MS = 10_000;

export interface WorkerPoolOptions {
  count: number;
  hub: PrimaryHub;
  /** The primary's mesh forwarder, when the mesh runs: workers forward through it. */
  peers?: PeerForwarder;
  logger: Logger;
  /** The primary's Unix socket (workers hand it every request that is not a pipeline route). */
  socketPath: string;
  graceMs: number;
  /** Called once when no worker is left and none may be restarted (the node can serve nothing). */
  onEmpty: () => void;
}

interface Slot {
  worker: Worker;
  stopPeers?: () => void;
}

/**
 * The workers of a node (node:cluster, sharing the public port): forks them, serves each one's IPC through the hub,
 * restarts one that exits unexpectedly (a log line each time, at most RESTART_LIMIT per RESTART_WINDOW_MS), and at
 * shutdown asks every worker to drain and waits for it to exit.
 */
export class WorkerPool {
  readonly #slots = new Map<number, Slot>();
  readonly #restarts: number[] = [];
  #stopping = false;
  #url?: string;

  constructor(private readonly options: WorkerPoolOptions) {
    cluster.setupPrimary({ serialization: 'advanced' });
  }

  /** Forks every worker and resolves with the public URL once all listen; rejects if one exits first. */
  async start(): Promise<string> {
    const ready = Array.from({ length: this.options.count }, () => this.#fork());
    const urls = await Promise.all(ready);
    this.#url = urls[0]!;
    return this.#url;
  }

  get size(): number {
    return this.#slots.size;
  }

  /** The process ids of the running workers. */
  pids(): number[] {
    return [...this.#slots.values()].flatMap((slot) => (slot.worker.process.pid === undefined ? [] : [slot.worker.process.pid]));
  }

  #fork(): Promise<string> {
    const worker = cluster.fork({ [PRIMARY_SOCKET_ENV]: this.options.socketPath });
    const channel = new IpcChannel(worker, { timeoutMs: IPC_TIMEOUT_MS });
    this.options.hub.attach(worker.id, channel);
    const slot: Slot = { worker, stopPeers: this.options.peers && servePeerForwards(channel, this.options.peers) };
    this.#slots.set(worker.id, slot);
    const { logger } = this.options;
    return new Promise<string>((resolve, reject) => {
      let listening = false;
      let failure: { code?: string; message: string } | undefined;
      channel.on<{ code?: string; message: string }>('failed', (reason) => (failure = reason));
      channel.on<{ url: string }>('ready', ({ url }) => {
        listening = true;
        logger.info({ worker: worker.id, pid: worker.process.pid, url }, 'worker started');
        resolve(url);
      });
      worker.on('exit', (code, signal) => {
        slot.stopPeers?.();
        this.#slots.delete(worker.id);
        void this.options.hub.detach(worker.id);
        if (!listening) reject(Object.assign(new Error(`worker ${worker.id} could not start: ${failure?.message ?? `it exited (${code ?? signal})`}`), { code: failure?.code }));
        if (this.#stopping || !listening) return;
        this.#restart(worker, code, signal);
      });
    });
  }

  #restart(worker: Worker, code: number | null, signal: string | null): void {
    const { logger } = this.options;
    const now = Date.now();
    while (this.#restarts.length > 0 && this.#restarts[0]! <= now - RESTART_WINDOW_MS) this.#restarts.shift();
    if (this.#restarts.length >= RESTART_LIMIT) {
      logger.error({ worker: worker.id, pid: worker.process.pid, code, signal, restarts: this.#restarts.length, windowMs: RESTART_WINDOW_MS }, 'worker exited; restart limit reached, not restarting it');
      if (this.#slots.size === 0) this.options.onEmpty();
      return;
    }
    this.#restarts.push(now);
    logger.warn({ worker: worker.id, pid: worker.process.pid, code, signal }, 'worker exited unexpectedly; restarting it');
    this.#fork().catch((err: Error) => {
      logger.error({ err: err.message }, 'restarted worker failed to start');
      if (this.#slots.size === 0 && !this.#stopping) this.options.onEmpty();
    });
  }

  /**
   * Asks every worker to drain (each stops accepting and finishes its in-flight requests, as a single-process node
   * does) and waits for all to exit; one still running after the grace period and a margin is killed.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#slots.values()].map(({ worker }) => new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      worker.once('exit', () => resolve());
      worker.process.kill('SIGTERM');
    }));
    const margin = setTimeout(() => {
      for (const { worker } of this.#slots.values()) {
        this.options.logger.warn({ worker: worker.id }, 'worker still running after the grace period: killed');
        worker.process.kill('SIGKILL');
      }
    }, this.options.graceMs + 10_000);
    await Promise.all(exits);
    clearTimeout(margin);
  }
}
