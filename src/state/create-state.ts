import type { Logger } from 'pino';
import { QuotaStore } from '../policy/index.js';
import type { Store } from '../store/index.js';
import type { StateBackend } from './state-backend.js';
import type { StateConfig } from './state-config.js';

export interface CreateStateOptions {
  config: StateConfig;
  store: Store;
  logger: Logger;
  now?: () => number;
  onLatency?: (operation: string, seconds: number) => void;
  onStatus?: (up: boolean) => void;
}

/**
 * The shared backend `[state]` names, started; undefined for `embedded`, where access control keeps its counters in
 * this node's LevelDB as it always did. With Redis, LevelDB counts only while Redis is away (`on_unavailable = "local"`).
 */
export async function createState(options: CreateStateOptions): Promise<StateBackend | undefined> {
  const { config, store, logger } = options;
  if (config.backend === 'embedded' || config.url === undefined) return undefined;
  const quotas = config.on_unavailable === 'local' ? await QuotaStore.forStore(store, options.now) : undefined;
  // Loaded only for this backend: ioredis and its dependencies cost a node on the embedded default ~10 MB at start.
  const { RedisState } = await import('./redis-state.js');
  const redis = new RedisState({
    config: { ...config, url: config.url },
    logger,
    local: quotas,
    onLatency: options.onLatency,
    onStatus: options.onStatus,
  });
  await redis.start();
  return redis;
}
