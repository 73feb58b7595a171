import type { Logger } from 'pino';
import type { ActualUsage, CredentialResolver, FederatedPrincipal, IssuerQuota, Reservation, ReserveInput, TokenChange, TokenRecord, TokenRegistry } from '../auth/index.js';
import type { CachedAnswer, ResponseCacheBackend } from '../cache/index.js';
import { unauthorized } from '../errors/index.js';
import type { MetricsSnapshot } from '../metrics/index.js';
import type { QuotaCharge, QuotaCounters, QuotaReservation, QuotaReserveOptions, QuotaState } from '../policy/index.js';
import { usageRecordSchema, type UsageRecord } from '../records/index.js';
import type { CircuitBreakerOptions } from '../router/circuit-breaker.js';
import type { CircuitEvent, CircuitStateStore, SharedCircuit } from '../router/shared-circuit-breaker.js';
import type { QualityAggregate, QualitySignal } from '../signals/index.js';
import { RevokedDuringReserveError, type StateBackend, type StateBackendKind } from '../state/index.js';
import type { IpcChannel } from './ipc-channel.js';
import type { FederatedAtPrimary, ReservedAtPrimary, WorkerHello } from './worker-state.js';

/** What of the node the primary serves its workers from. */
export interface PrimaryParts {
  counters: QuotaCounters;
  tokens: TokenRegistry;
  /** The shared backend (`[state] backend = "redis"`); absent: the embedded one (the token registry's revocations). */
  state?: StateBackend;
  /** Writes one record to the node's record store (and its SQL index). */
  writeRecord: (record: UsageRecord) => Promise<boolean>;
  /** Notes a request a worker admitted, so a quality signal sent right after its answer waits for its record. */
  expectRecord?: (requestId: string) => void;
  /**
   * A worker's request began (its record is expected) or ended (its record came): the primary serves no request of its
   * own then, so this is what keeps its idle watch from counting it idle under the workers' load (and collecting its
   * heap in the middle of it: `server.idle_heap_reclaim_seconds`).
   */
  onWorkerRequest?: () => void;
  /** The response cache's store, when `[cache] enabled`: workers look answers up and fill them here. */
  cache?: ResponseCacheBackend;
  /** The quality signals' aggregate routing reads: workers route on a copy that follows it. */
  quality?: QualityAggregate;
  peerId?: string;
  /**
   * Federated access (`Federation.access`, when the mesh runs): the resolver of trusted gateways' tokens and the
   * reservations at their issuers, which need the mesh only this process runs — workers resolve and reserve here.
   */
  federation?: { resolver: CredentialResolver; quota: IssuerQuota };
  /** The node's shared circuit breakers (Redis's, else the primary's memory): every worker's breakers read and report here. */
  circuits?: CircuitStateStore;
  logger: Logger;
}

interface Connected {
  channel: IpcChannel;
  /** Reservations this worker holds: released if it exits before settling them (its requests died with it). */
  reservations: Map<number, QuotaReservation>;
  /** Reservations at other gateways' issuers for this worker's requests: released the same way. */
  federated: Map<number, Reservation>;
  /** Set when the worker exited: a reservation that completes after that is released at once, never kept. */
  detached: boolean;
}

/** The reservation filed under `handle`, removed from `held` (undefined when settled, released or never made). */
function take<R>(held: Map<number, R>, handle: number): R | undefined {
  const reservation = held.get(handle);
  held.delete(handle);
  return reservation;
}

/**
 * Federated tokens a worker had resolved here, kept until its reservation (which comes right after, for the same
 * request) takes the principal back instead of verifying the token a second time. Bounded: a worker that died
 * between the two leaves an entry the oldest-first eviction drops.
 */
const RESOLVED_KEPT = 1_000;

/**
 * The primary's side of its workers: the one place that counts quotas, keeps tokens and writes records for the whole
 * node. Each worker is a channel; every call runs here, in this process's one event loop, so the check-and-reserve
 * of a request is as exact across workers as it is in a single process.
 */
export class PrimaryHub {
  readonly #workers = new Map<number, Connected>();
  #nextHandle = 1;
  readonly #unsubscribe: Array<() => void>;

  constructor(private readonly parts: PrimaryParts) {
    // Every token change reaches every worker's copy (a revocation at once; the verifier also asks us).
    this.#unsubscribe = [
      parts.tokens.onChange((change: TokenChange) => this.broadcast('tokens.change', change)),
      // Each signal as it is added or replaced, so every worker's routing scores what the primary's does.
      ...(parts.quality ? [parts.quality.onChange((signal: QualitySignal, sign) => this.broadcast('quality.change', { signal, sign }))] : []),
    ];
    // A circuit some process changed: every worker reads it again (as replicas do on Redis's announcement).
    parts.circuits?.onChange((provider) => this.broadcast('circuits.change', provider));
  }

  get stateKind(): StateBackendKind {
    return this.parts.state?.kind ?? 'embedded';
  }

  /** Serves one worker's calls on `channel` until `detach`. */
  attach(id: number, channel: IpcChannel): void {
    const worker: Connected = { channel, reservations: new Map(), federated: new Map(), detached: false };
    this.#workers.set(id, worker);
    const { counters, tokens, state } = this.parts;
    channel.handle('hello', (): WorkerHello => ({
      stateKind: this.stateKind, tokens: tokens.list(), quality: this.parts.quality?.snapshot() ?? [], peerId: this.parts.peerId, federation: this.parts.federation !== undefined,
      sharedCircuits: this.parts.circuits !== undefined,
    }));
    channel.handle('quota.reserve', async ({ charges, options }: { charges: QuotaCharge[]; options?: QuotaReserveOptions }): Promise<ReservedAtPrimary> => {
      // Checked in the same turn as the reservation: a token revoked since the worker verified it is refused here.
      if (options?.tokenId !== undefined && tokens.isRevoked(options.tokenId)) throw new RevokedDuringReserveError();
      const reservation = await counters.reserve(charges, options);
      return { handle: await this.#hold(worker, worker.reservations, reservation), states: reservation.states };
    });
    channel.handle('quota.settle', async ({ handle, actual }: { handle: number; actual: Record<string, number | undefined> }) => take(worker.reservations, handle)?.settle(actual));
    channel.handle('quota.release', async ({ handle }: { handle: number }) => take(worker.reservations, handle)?.release());
    channel.handle('quota.peek', async (charge: Omit<QuotaCharge, 'amount'>): Promise<QuotaState> => counters.peek(charge));
    channel.handle('revoked', async (tokenId: string) => tokens.isRevoked(tokenId) || ((await state?.revocations.isRevoked(tokenId)) ?? false));
    channel.handle('revoke', async ({ tokenId, at, until }: { tokenId: string; at: number; until: number | null }) => state?.revocations.revoke(tokenId, at, until));
    channel.handle('tokens.learn', (record: TokenRecord) => tokens.learn(record));
    if (this.parts.federation) this.#serveFederation(worker, this.parts.federation);
    const { circuits } = this.parts;
    if (circuits) {
      channel.handle('circuits.apply', ({ provider, event, options }: { provider: string; event: CircuitEvent; options: CircuitBreakerOptions }) => circuits.apply(provider, event, options));
      channel.handle('circuits.read', async ({ providers, options }: { providers: string[]; options: CircuitBreakerOptions }): Promise<Array<[string, SharedCircuit]>> => [
        ...(await circuits.read(providers, options)),
      ]);
    }
    const { cache } = this.parts;
    if (cache) {
      channel.handle('cache.get', (key: string) => cache.get(key));
      channel.handle('cache.set', ({ key, answer, bytes }: { key: string; answer: CachedAnswer; bytes: number }) => cache.set(key, answer, bytes));
    }
    const { expectRecord, onWorkerRequest } = this.parts;
    channel.on<string>('records.expect', (requestId) => {
      onWorkerRequest?.();
      expectRecord?.(requestId);
    });
    channel.handle('records.write', (records: unknown[]) => {
      onWorkerRequest?.();
      return Promise.all(records.map((record) => this.#writeRecord(record)));
    });
  }

  /**
   * Trusted gateways' tokens for a worker: verified here (with the issuer's key from the gateway records this process
   * reads off the mesh), then reserved at the issuer over the mesh, settled or released when the worker says.
   */
  #serveFederation(worker: Connected, federation: { resolver: CredentialResolver; quota: IssuerQuota }): void {
    const { channel, federated } = worker;
    const resolved = this.#resolved;
    channel.handle('federation.resolve', async (credential: string): Promise<FederatedPrincipal | null> => {
      const principal = (await federation.resolver.resolve(credential)) as FederatedPrincipal | undefined;
      if (!principal) return null;
      resolved.delete(credential);
      resolved.set(credential, principal);
      if (resolved.size > RESOLVED_KEPT) resolved.delete(resolved.keys().next().value!);
      return principal;
    });
    channel.handle('federation.reserve', async ({ credential, input }: { credential: string; input: ReserveInput }): Promise<FederatedAtPrimary> => {
      let principal = resolved.get(credential);
      resolved.delete(credential);
      principal ??= (await federation.resolver.resolve(credential)) as FederatedPrincipal | undefined;
      if (!principal) throw unauthorized('The access token is not one of a trusted gateway.', 'token_wrong_gateway');
      const reservation = await federation.quota.reserve(principal, input);
      return { handle: await this.#hold(worker, federated, reservation), headers: reservation.headers };
    });
    channel.handle('federation.settle', async ({ handle, usage }: { handle: number; usage: ActualUsage }) => take(federated, handle)?.settle(usage));
    channel.handle('federation.release', async ({ handle }: { handle: number }) => take(federated, handle)?.release());
  }

  /**
   * Files a reservation the worker settles or releases by its handle — unless the worker exited while it was being
   * made (a Redis round trip, an issuer over the mesh): its request died with it, so it is released at once.
   */
  async #hold<R extends { release(): Promise<void> }>(worker: Connected, held: Map<number, R>, reservation: R): Promise<number> {
    if (worker.detached) {
      await reservation.release();
      throw new Error('the worker exited before its reservation was made');
    }
    const handle = this.#nextHandle++;
    held.set(handle, reservation);
    return handle;
  }

  /** Federated tokens resolved for a worker, waiting for its reservation (see RESOLVED_KEPT). */
  readonly #resolved = new Map<string, FederatedPrincipal>();

  /**
   * A worker's record, parsed where it enters this process: the record store checks only what the type system
   * cannot for records built here, and JSON over IPC drops what a schema default fills in. Refused: false (logged).
   */
  #writeRecord(record: unknown): Promise<boolean> {
    const parsed = usageRecordSchema.safeParse(record);
    if (parsed.success) return this.parts.writeRecord(parsed.data);
    const fields = parsed.error.issues.map((issue) => issue.path.join('.'));
    this.parts.logger.error({ fields }, 'usage record from a worker refused: it does not fit the record schema');
    return Promise.resolve(false);
  }

  /**
   * Forgets a worker that exited: what it had reserved and not settled is released (its requests died with it), so a
   * crashed worker leaves no charge behind.
   */
  async detach(id: number): Promise<void> {
    const worker = this.#workers.get(id);
    if (!worker) return;
    this.#workers.delete(id);
    worker.detached = true;
    worker.channel.close();
    const orphaned = [...worker.reservations.values(), ...worker.federated.values()];
    if (orphaned.length > 0) this.parts.logger.warn({ worker: id, reservations: orphaned.length }, 'worker exited with reservations in flight: released');
    await Promise.allSettled(orphaned.map((reservation) => reservation.release()));
  }

  /** Every connected worker's metrics (a silent worker's are left out rather than holding up the scrape). */
  async workerMetrics(): Promise<MetricsSnapshot[]> {
    const answers = await Promise.allSettled([...this.#workers.values()].map((worker) => worker.channel.call<MetricsSnapshot>('metrics')));
    return answers.flatMap((answer) => (answer.status === 'fulfilled' ? [answer.value] : []));
  }

  /** Sends an event to every worker. */
  broadcast(op: string, args?: unknown): void {
    for (const worker of this.#workers.values()) worker.channel.emit(op, args);
  }

  close(): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
  }
}
