import type { AdminKey, CredentialResolver, FederatedPrincipal, IssuerQuota, Reservation, TokenChange, TokenRecord } from '../auth/index.js';
import { TokenRegistry } from '../auth/index.js';
import type { CachedAnswer, ResponseCacheBackend } from '../cache/index.js';
import { otherGatewayToken } from '../federation/index.js';
import type { CircuitStateStore, SharedCircuit } from '../router/shared-circuit-breaker.js';
import type { QuotaCharge, QuotaCounters, QuotaReservation, QuotaReserveOptions, QuotaState } from '../policy/index.js';
import { QualityAggregate, type QualitySignal, type QualitySnapshot, type SignalsConfig } from '../signals/index.js';
import type { StateBackend, StateBackendKind } from '../state/index.js';
import type { IpcChannel } from './ipc-channel.js';

/** What the primary answers a worker's `hello`: the state the worker starts from. */
export interface WorkerHello {
  /** The primary's own state backend (embedded LevelDB or Redis): the worker counts through it. */
  stateKind: StateBackendKind;
  tokens: TokenRecord[];
  /** The primary's quality aggregate, which the worker's copy starts from. */
  quality: QualitySnapshot;
  /** The primary's mesh peer id, when the mesh runs (workers forward through it). */
  peerId?: string;
  /** Whether the primary serves federated access (trusted gateways' tokens): workers then resolve and reserve there. */
  federation: boolean;
  /** Whether the primary keeps the node's shared circuit breakers: workers then report and read theirs there. */
  sharedCircuits: boolean;
}

/** A reservation at a trusted gateway's issuer as the primary returns it: its handle, and the issuer's headers. */
export interface FederatedAtPrimary {
  handle: number;
  headers: Record<string, string>;
}

/** A reservation as the primary returns it: its handle for settle/release, and the counters after it. */
export interface ReservedAtPrimary {
  handle: number;
  states: QuotaState[];
}

/**
 * A worker's state backend: every quota reservation, settlement and revocation check is a call to the primary, the one
 * process that counts (over its embedded LevelDB or Redis), so concurrent requests across workers against a limit of
 * L still admit exactly L. A primary that is gone or silent makes each call fail closed (`primary_unavailable`).
 */
export class PrimaryState implements Pick<StateBackend, 'kind' | 'quotas' | 'revocations' | 'health' | 'close'> {
  readonly kind: StateBackendKind;
  readonly quotas: QuotaCounters;
  readonly revocations: StateBackend['revocations'];
  readonly #pending = new Set<Promise<unknown>>();

  constructor(private readonly channel: IpcChannel, kind: StateBackendKind) {
    this.kind = kind;
    this.quotas = {
      reserve: (charges, options) => this.#reserve(charges, options),
      peek: (charge) => channel.call<QuotaState>('quota.peek', charge),
      flush: () => this.flush(),
    };
    this.revocations = {
      isRevoked: (tokenId) => channel.call<boolean>('revoked', tokenId),
      revoke: (tokenId, at, until) => channel.call<void>('revoke', { tokenId, at, until }),
    };
  }

  health() {
    return { backend: this.kind, status: 'ok' as const };
  }

  /** Waits for settlements still on their way to the primary. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#pending]);
  }

  async close(): Promise<void> {
    await this.flush();
  }

  async #reserve(charges: QuotaCharge[], options?: QuotaReserveOptions): Promise<QuotaReservation> {
    const { handle, states } = await this.channel.call<ReservedAtPrimary>('quota.reserve', { charges, options });
    const track = <T>(call: Promise<T>) => {
      this.#pending.add(call);
      void call.catch(() => undefined).finally(() => this.#pending.delete(call));
      return call;
    };
    return {
      states,
      settle: (actual) => track(this.channel.call<void>('quota.settle', { handle, actual })),
      release: () => track(this.channel.call<void>('quota.release', { handle })),
    };
  }
}

/**
 * The worker's copy of the primary's token directory: loaded at start, following every change the primary announces
 * (tokens minted, revoked, forgotten), and telling the primary of a token first seen here. Revocations do not rely on
 * the copy alone: the verifier also asks the primary (`PrimaryState.revocations`), and the reservation checks again.
 */
export function tokenReplica(channel: IpcChannel, records: TokenRecord[]): TokenRegistry {
  const replica = TokenRegistry.replica(records, {
    iterator: async function* () {},
    put: (_id, record) => channel.call<void>('tokens.learn', record),
    // Forgetting expired tokens is the primary's job; its change reaches every replica.
    del: async () => undefined,
  });
  channel.on<TokenChange>('tokens.change', (change) => replica.mirror(change));
  return replica;
}

/** The response cache's store as a worker reaches it: the primary's (one cache for the node, one size cap). */
export function cacheViaPrimary(channel: IpcChannel): ResponseCacheBackend {
  return {
    get: (key) => channel.call<CachedAnswer | undefined>('cache.get', key),
    set: (key, answer, bytes) => channel.call<void>('cache.set', { key, answer, bytes }),
    // The store is the primary's to close.
    close: async () => undefined,
  };
}

/** A worker's copy of the primary's quality aggregate: the routing engine scores targets on the same signals everywhere. */
export function qualityReplica(channel: IpcChannel, config: SignalsConfig, snapshot: QualitySnapshot): QualityAggregate {
  const replica = QualityAggregate.forConfig(config, Date.now);
  replica.restore(snapshot);
  channel.on<{ signal: QualitySignal; sign: 1 | -1 }>('quality.change', ({ signal, sign }) => (sign > 0 ? replica.add(signal) : replica.remove(signal)));
  return replica;
}

/**
 * Federated access in a worker (`createAccessControl`'s `federation` hook): a token of another gateway is verified
 * and reserved at the primary, which reads that gateway's key from the mesh and reaches its issuer over it — the same
 * resolver and reservations as a single-process node, so its limits hold across every worker. This node's own tokens
 * and anything that is not an access token never leave the worker.
 */
export function federationViaPrimary(channel: IpcChannel): (parts: { adminKey: AdminKey }) => { resolver: CredentialResolver; quota: IssuerQuota } {
  return ({ adminKey }) => {
    // The token text of each principal the primary resolved, for its reservation (kept beside it, never on it).
    const credentials = new WeakMap<object, string>();
    const resolver: CredentialResolver = {
      async resolve(credential) {
        if (!otherGatewayToken(credential, adminKey.gatewayId)) return undefined;
        const principal = await channel.call<FederatedPrincipal | null>('federation.resolve', credential);
        if (!principal) return undefined;
        credentials.set(principal, credential);
        return principal;
      },
    };
    const quota: IssuerQuota = {
      async reserve(principal, input): Promise<Reservation> {
        const credential = credentials.get(principal);
        if (credential === undefined) throw new Error('a federated principal this worker did not resolve');
        const { handle, headers } = await channel.call<FederatedAtPrimary>('federation.reserve', { credential, input });
        return {
          headers,
          settle: (usage) => channel.call<void>('federation.settle', { handle, usage }),
          release: () => channel.call<void>('federation.release', { handle }),
        };
      },
    };
    return { resolver, quota };
  };
}

/**
 * The node's shared circuit breakers as a worker reaches them: each event and read is a call to the primary, which
 * keeps them (in its memory, or in Redis) and tells every worker of a change — a circuit opened by failures at one
 * worker is open at all of them, and one probe at a time goes out for the node.
 */
export function circuitsViaPrimary(channel: IpcChannel): CircuitStateStore {
  return {
    apply: (provider, event, options) => channel.call('circuits.apply', { provider, event, options }),
    read: async (providers, options) => new Map(await channel.call<Array<[string, SharedCircuit]>>('circuits.read', { providers, options })),
    onChange: (listener) => channel.on<string>('circuits.change', listener),
    // The store is the primary's to close.
    close: async () => undefined,
  };
}
