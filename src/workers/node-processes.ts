import cluster from 'node:cluster';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { ConfigError } from '../core/index.js';
import { Gateway } from '../gateway/gateway.js';
import { createLogger } from '../logging/logger.js';
import { MemoryCircuitStore } from '../router/memory-circuit-store.js';
import { IpcChannel, type IpcPort } from './ipc-channel.js';
import { PrimaryHub } from './primary-hub.js';
import { IPC_TIMEOUT_MS, PRIMARY_SOCKET_ENV, WorkerPool } from './worker-pool.js';
import { WorkerNode } from './worker-node.js';

/** `server.workers` as a number of processes (`"auto"`: one per core this process may use). */
export function workerCount(config: Config): number {
  const setting = config.server.workers;
  return setting === 'auto' ? availableParallelism() : setting;
}

/** Refuses, before anything starts, a configuration that several workers cannot honour exactly. */
export function checkWorkersConfig(config: Config, count: number): void {
  if (count <= 1) return;
  // Workers share max_concurrent (each takes its share, so together they never exceed it): each needs at least one.
  if (config.server.max_concurrent < count) {
    throw new ConfigError(`Invalid configuration: server.workers = ${config.server.workers} (${count} processes) is more than server.max_concurrent = ${config.server.max_concurrent}: the workers share that limit and each needs at least 1. Raise server.max_concurrent or lower server.workers.`);
  }
}

/** The primary process of a node with workers: the whole node (LevelDB, mesh, operator API) plus its worker pool. */
export interface PrimaryNode {
  gateway: Gateway;
  pool: WorkerPool;
  /** The public URL the workers listen on. */
  url: string;
  /** Drains every worker, then closes the node. */
  close(): Promise<void>;
}

export async function startPrimary(config: Config, count: number, options: { logger?: Logger; onEmpty: () => void; configSource?: string }): Promise<PrimaryNode> {
  const logger = options.logger ?? createLogger();
  // A directory only this user can enter (mkdtemp makes it 0700): the socket's peers are this node's workers.
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-'));
  const socketPath = join(dir, 'primary.sock');
  let gateway: Gateway | undefined;
  let pool: WorkerPool | undefined;
  let hub: PrimaryHub | undefined;
  const closeAll = async () => {
    await pool?.stop();
    await gateway?.close();
    hub?.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    // The node's circuits, shared by the primary and every worker (a state backend that shares them, Redis, wins).
    const circuitStore = new MemoryCircuitStore();
    gateway = await Gateway.start(config, {
      logger, internalSocket: socketPath, configSource: options.configSource, circuitStore, reclaimIdleMemory: true,
      // Each worker built its providers and routing from the file at start: a change at the primary alone would split them.
      fixedConfig: `This node runs ${count} workers (server.workers), each with the providers and routing it read at start: restart the node to apply a changed config file or to add, change or delete providers.`,
    });
    const node = gateway;
    hub = new PrimaryHub({
      counters: node.access.counters,
      tokens: node.access.registry,
      state: node.state,
      // The node's own recorder: stored, and mirrored to the SQL index as this node's own records are.
      writeRecord: (record) => node.recorder.write(record),
      expectRecord: (requestId) => node.recorder.expect(requestId),
      onWorkerRequest: () => node.idle.served(),
      peerId: node.mesh?.peerId,
      federation: node.federation?.access,
      circuits: node.state?.circuits ?? circuitStore,
      cache: node.cache?.backend,
      quality: node.signals.aggregate,
      logger,
    });
    const workers = hub;
    node.metrics.aggregateWith(() => workers.workerMetrics());
    pool = new WorkerPool({ count, hub, peers: node.peerForwarder, logger, socketPath, graceMs: config.server.shutdown_grace_seconds * 1000, onEmpty: options.onEmpty });
    const url = await pool.start();
    let closing: Promise<void> | undefined;
    return { gateway, pool, url, close: () => (closing ??= closeAll()) };
  } catch (err) {
    await closeAll().catch((closeErr: Error) => logger.warn({ err: closeErr.message }, 'start-up: clean-up failed'));
    throw err;
  }
}

/**
 * A worker process (forked by the primary's pool): serves the pipeline on the shared port until SIGTERM/SIGINT, a
 * shutdown from the primary, or the primary's exit (IPC disconnect); then drains and exits. Returns the exit code.
 */
export async function runWorker(config: Config): Promise<number> {
  const logger = createLogger().child({ worker: cluster.worker?.id });
  const primarySocket = process.env[PRIMARY_SOCKET_ENV];
  const channel = new IpcChannel(process as unknown as IpcPort, { timeoutMs: IPC_TIMEOUT_MS });
  if (!primarySocket) {
    channel.emit('failed', { message: `${PRIMARY_SOCKET_ENV} is not set` });
    return 1;
  }
  let node: WorkerNode;
  try {
    node = await WorkerNode.start(config, { channel, primarySocket, logger, workers: workerCount(config) });
  } catch (err) {
    const e = err as Error & { code?: string };
    logger.error({ err: e.message, code: e.code }, 'worker failed to start');
    channel.emit('failed', { code: e.code, message: e.message });
    return 1;
  }
  channel.emit('ready', { url: node.url });
  await new Promise<void>((resolve) => {
    const stop = () => void node.close().then(resolve, (err: Error) => {
      logger.error({ err: err.message }, 'error during worker shutdown');
      resolve();
    });
    // Ctrl-C reaches every process of the group and the primary then sends SIGTERM too: both mean "drain" (close
    // is idempotent), and only a second Ctrl-C exits at once, as it does for a single-process node.
    let interrupts = 0;
    process.on('SIGTERM', stop);
    process.on('SIGINT', () => (++interrupts > 1 ? process.exit(130) : stop()));
    process.once('disconnect', stop);
  });
  channel.close();
  if (process.connected) process.disconnect?.();
  // Nothing should be left holding the loop open; if something is, the worker still goes (its work is done).
  setTimeout(() => process.exit(0), 2_000).unref();
  return 0;
}
