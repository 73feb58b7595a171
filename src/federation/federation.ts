import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdminKey, CredentialResolver, IssuerQuota, Principal, QuotaAdmission } from '../auth/index.js';
import { PerPeerRate } from '../core/index.js';
import type { Measured } from '../ledger/index.js';
import type { QuotaCounters } from '../policy/index.js';
import type { FederationConfig } from './federation-config.js';
import { FederatedTokenResolver } from './federated-token-resolver.js';
import { GatewayDirectory, type PeerRecordSource } from './gateway-directory.js';
import { MAX_GATEWAY_RECORD_VALIDITY_MS, signGatewayRecord } from './gateway-record.js';
import { IssuerReservations, type FederationLink } from './issuer-reservations.js';
import { ReservationServer, type SettledReservation } from './reservation-server.js';
import { MAX_RESERVE_MESSAGE_BYTES, MAX_RESERVE_MESSAGES_IN_FLIGHT_PER_PEER, RESERVE_PROTOCOL } from './reserve-messages.js';
import { TrustedGateways } from './trusted-gateways.js';

/** What federation needs of the mesh node. */
export interface FederationMesh extends PeerRecordSource {
  readonly peerId: string;
  isConnected(peerId: string): boolean;
  sendMessage(peerId: string, protocol: string, message: unknown, timeoutMs?: number): Promise<unknown>;
  handleMessages(
    protocol: string, handler: (message: unknown, peerId: string) => Promise<unknown>, admit?: (peerId: string) => string | undefined,
    bounds?: { maxMessageBytes?: number; maxInFlightPerPeer?: number },
  ): Promise<void>;
}

/** What the mesh side hands over once it exists: the node, its key, this gateway's access control and the ledger. */
export interface FederationAttachment {
  mesh: FederationMesh;
  /** The node's peer key (reservations are signed with it). */
  signingKey: KeyObject;
  adminKey: AdminKey;
  access: { resolve: (credential: string) => Promise<Principal | undefined>; quotas: Pick<QuotaAdmission, 'reserve'> };
  /** Issuing side: checks a serving node's receipt and acknowledges or disputes it. */
  receipts?: (peerId: string, requestId: string, receipt: string, measured: Measured) => Promise<void>;
  priceOf?: (peerId: string, model: string) => Measured['price'];
  /** Serving side: this node's receipt to an issuing node, and the credit limit toward it. */
  issueReceipt?: FederationLink['issueReceipt'];
  admitCredit?: FederationLink['admitCredit'];
}

export interface FederationOptions {
  config: FederationConfig;
  clockSkewSeconds: number;
  logger: Logger;
  /** Each request another node served under one of this gateway's tokens, once settled (the issuer's records). */
  onSettled?: (settled: SettledReservation) => void;
  /**
   * `state.reservation_ttl_seconds` when the state backend is shared (Redis): it drops a reservation after that, and an
   * expired federated reservation is charged through it, so the issuer's own lifetime is kept below it.
   */
  sharedReservationTtlSeconds?: number;
  /** Each step of a reservation, for metrics (see ReservationEvent). */
  onEvent?: ReservationEvents;
  now?: () => number;
}

/** A reservation step as metrics count it. */
export type ReservationEvents = (side: 'serving' | 'issuing', outcome: string) => void;

export interface FederationStatus {
  gateway_id: string | null;
  public_key: string | null;
  trusted: Array<{ gateway_id: string; pinned_key: string | null; nodes: string[] }>;
  open_reservations: number;
  offline_budget: number;
}

/** Re-sign this node's gateway record when less than this share of its validity is left. */
const REFRESH_SHARE = 0.5;

/**
 * Federated access for one node (README, "Federation"; protocol/gateway-record.md, protocol/reservations.md): as a
 * serving node, tokens of trusted gateways verified offline and their quota reserved at the issuer; as an issuing
 * node, this gateway's gateway record published in the node record, and reservations answered for its own tokens.
 * Built before access control (which takes `accessHooks`), attached to the mesh once that exists.
 */
export class Federation {
  readonly directory: GatewayDirectory;
  readonly trusted: TrustedGateways;
  readonly #credentials = new WeakMap<object, string>();
  readonly #now: () => number;
  #link: FederationLink | undefined;
  #server: ReservationServer | undefined;
  #record: { jws: string; refreshAt: number } | undefined;
  #adminKey: AdminKey | undefined;
  #access: { resolver: CredentialResolver; quota: IssuerQuota } | undefined;

  constructor(private readonly options: FederationOptions) {
    this.#now = options.now ?? Date.now;
    this.directory = new GatewayDirectory(options.logger, this.#now);
    this.trusted = new TrustedGateways(options.config.trusted_gateways);
  }

  /** For `createAccessControl`: the resolver of trusted gateways' tokens and the quota reserved at their issuer. */
  readonly accessHooks = ({ adminKey, counters }: { adminKey: AdminKey; counters: QuotaCounters }): { resolver: CredentialResolver; quota: IssuerQuota } => {
    const { config, clockSkewSeconds, logger } = this.options;
    this.#adminKey = adminKey;
    const retryAfterSeconds = config.retry_after_seconds;
    this.#access = {
      resolver: new FederatedTokenResolver({
        ownGatewayId: adminKey.gatewayId, trusted: this.trusted, directory: this.directory, credentials: this.#credentials, clockSkewSeconds, retryAfterSeconds, now: this.#now,
      }),
      quota: new IssuerReservations({
        link: () => this.#link, directory: this.directory, trusted: this.trusted, credentials: this.#credentials, timeoutMs: config.reserve_timeout_ms, retryAfterSeconds, logger,
        onEvent: (outcome) => this.options.onEvent?.('serving', outcome),
        ...(config.offline_budget > 0 ? { offline: { requestsPerHour: config.offline_budget, counters } } : {}),
      }),
    };
    return this.#access;
  };

  /**
   * The resolver and issuer quota `accessHooks` built for this node's access control (undefined before): a node's
   * worker processes (`server.workers`) resolve and reserve trusted gateways' tokens through them, at the primary.
   */
  get access(): { resolver: CredentialResolver; quota: IssuerQuota } | undefined {
    return this.#access;
  }

  /** Connects to the mesh: reads gateway records from it, answers reservations for this gateway's tokens. */
  async attach(parts: FederationAttachment): Promise<void> {
    const { mesh } = parts;
    this.#adminKey = parts.adminKey;
    this.directory.attach(mesh);
    this.#server = new ReservationServer({
      selfId: mesh.peerId, gatewayId: parts.adminKey.gatewayId, signingKey: parts.signingKey, resolve: parts.access.resolve, quotas: parts.access.quotas,
      ttlMs: this.reservationTtlMs, receipts: parts.receipts, priceOf: parts.priceOf, onSettled: this.options.onSettled,
      onEvent: (outcome) => this.options.onEvent?.('issuing', outcome),
      logger: this.options.logger, now: this.#now,
    });
    const rate = new PerPeerRate(this.options.config.reserve_messages_per_second, this.#now);
    await mesh.handleMessages(
      RESERVE_PROTOCOL, this.#server.handle,
      (peerId) => (rate.admit(peerId) ? undefined : `rate limited: more than ${rate.rate} reservation messages per second from this peer; try again later`),
      // One message per request a serving node admits or settles: as many at once as it serves requests of this
      // gateway's tokens, each small (a token, a reservation, a receipt).
      { maxMessageBytes: MAX_RESERVE_MESSAGE_BYTES, maxInFlightPerPeer: MAX_RESERVE_MESSAGES_IN_FLIGHT_PER_PEER },
    );
    this.#link = {
      selfId: mesh.peerId,
      send: (peerId, message, timeoutMs) => mesh.sendMessage(peerId, RESERVE_PROTOCOL, message, timeoutMs),
      isConnected: (peerId) => mesh.isConnected(peerId),
      issueReceipt: parts.issueReceipt,
      admitCredit: parts.admitCredit,
    };
  }

  /** How long a reservation made here holds: `reservation_ttl_seconds`, kept a second under the shared backend's own. */
  get reservationTtlMs(): number {
    const own = this.options.config.reservation_ttl_seconds * 1000;
    const shared = this.options.sharedReservationTtlSeconds;
    return shared === undefined ? own : Math.min(own, Math.max(shared * 1000 - 1000, (shared * 1000) / 2));
  }

  /** This node's gateway record for its node record (re-signed before it runs out); undefined before `attach`. */
  gatewayRecord(): string | undefined {
    const adminKey = this.#adminKey;
    const peer = this.#link?.selfId;
    if (!adminKey || !peer) return undefined;
    const now = this.#now();
    if (!this.#record || now >= this.#record.refreshAt) {
      this.#record = { jws: signGatewayRecord(adminKey, peer, now), refreshAt: now + MAX_GATEWAY_RECORD_VALIDITY_MS * REFRESH_SHARE };
    }
    return this.#record.jws;
  }

  /** What `GET /v1/mesh/federation` shows: this gateway, the gateways it trusts with their nodes known now, open reservations. */
  status(): FederationStatus {
    const adminKey = this.#adminKey;
    return {
      gateway_id: adminKey?.gatewayId ?? null,
      public_key: adminKey?.publicKeyText ?? null,
      trusted: this.trusted.list().map(({ gatewayId, pinnedKey }) => ({ gateway_id: gatewayId, pinned_key: pinnedKey ?? null, nodes: this.directory.find(gatewayId, pinnedKey)?.nodes ?? [] })),
      open_reservations: this.openReservations,
      offline_budget: this.options.config.offline_budget,
    };
  }

  /** Reservations this node holds open as issuer. */
  get openReservations(): number {
    return this.#server?.open ?? 0;
  }

  /** Stops answering: open reservations stay charged at their reserved amounts in the counters. */
  close(): void {
    this.#link = undefined;
    this.#server?.close();
  }
}
