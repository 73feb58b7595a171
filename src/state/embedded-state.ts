import type { QuotaStore } from '../policy/index.js';
import type { Revocations, SharedQuotaCounters, StateBackend } from './state-backend.js';

/** The embedded backend: this node's LevelDB counters and its own token registry (today's behaviour, one process). */
export function embeddedState(quotas: QuotaStore, revocations: Revocations): StateBackend {
  return {
    kind: 'embedded',
    quotas: embeddedCounters(quotas),
    revocations,
    health: () => ({ backend: 'embedded', status: 'ok' }),
    close: () => quotas.flush(),
  };
}

/** The LevelDB counters behind the shared interface (their peek is synchronous, being in memory). */
export function embeddedCounters(quotas: QuotaStore): SharedQuotaCounters {
  return {
    reserve: (charges) => quotas.reserve(charges),
    peek: async (charge) => quotas.peek(charge),
  };
}
