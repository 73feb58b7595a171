import type { IdentifyResult, PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import pino, { type Logger } from 'pino';
import { Advertiser, type Advertisement } from './advertiser.js';
import { ByteBudget } from './byte-budget.js';
import type { MeshConfig } from './config.js';
import { forwardToPeer, type ForwardResult } from './forward-client.js';
import { FORWARD_PROTOCOL, FORWARD_PROTOCOL_V2, type ForwardRequestFrame } from './forward-frames.js';
import { ForwardServer, type ForwardHandler } from './forward-server.js';
import { ForwardChannels } from './forward-session.js';
import { createMeshLibp2p, type MeshLibp2p } from './libp2p-node.js';
import type { ModelAdvert, RecordPayload } from './node-record.js';
import { loadOrCreatePeerKey } from './peer-key.js';
import { PeerFinder, type RankedPeer } from './peer-finder.js';
import { PeerScores } from './peer-scores.js';
import { peerStatuses, type MeshStatus } from './mesh-status.js';
import { RecordCache } from './record-cache.js';
import { MAX_RECORD_EXCHANGES_PER_PEER, RECORD_PROTOCOL, RecordExchange } from './record-exchange.js';
import { messageStreamHandler, sendMessage, type MessageAdmission, type MessageBounds, type MessageHandler } from './message-protocol.js';

/** Streams of one protocol open at once on one connection (libp2p's defaults are 32 in / 64 out). */
const MAX_STREAMS_PER_CONNECTION = 1024;
/** 2.0.0 sessions one connection may hold (a requester opens one per peer; a few more cover races and id rollover). */
const MAX_SESSIONS_PER_CONNECTION = 8;
const RECORD_EXCHANGE_TIMEOUT_MS = 5_000;
/** How long a peer may take to send its one ledger message after opening the stream. */
const REQUEST_FRAME_TIMEOUT_MS = 30_000;
/** Re-dial bootstrap peers that dropped, at this interval. */
const BOOTSTRAP_RETRY_MS = 30_000;
/** Record pushes after a republish run this many at a time. */
const PUSH_CONCURRENCY = 8;

export interface MeshNodeOptions {
  config: MeshConfig;
  dataDir: string;
  version: string;
  logger?: Logger;
  /** Epoch-ms clock for record validity and bans (tests move it forward instead of waiting). */
  clock?: () => number;
}

/**
 * One node of the meshgate federation: libp2p with the private DHT, the node's signed record, discovery of
 * peers per model, and the forward protocol in both directions. Started and stopped as one component.
 */
export class MeshNode {
  readonly peerId: string;
  readonly #config: MeshConfig;
  readonly #libp2p: MeshLibp2p;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #cache: RecordCache;
  readonly #scores: PeerScores;
  readonly #advertiser: Advertiser;
  readonly #exchange: RecordExchange;
  readonly #server: ForwardServer;
  readonly #channels: ForwardChannels;
  readonly #requestBudget: ByteBudget;
  readonly #finder: PeerFinder;
  /** allow_peers: [] allows every peer that can connect (with the PSK, if one is set). */
  readonly isAllowed: (peerId: string) => boolean;
  readonly #recordListeners = new Set<(record: RecordPayload) => void>();
  #handler: ForwardHandler | undefined;
  readonly #privateKey: PrivateKey;
  #bootstrapTimer: NodeJS.Timeout | undefined;
  /** The last publish reached no DHT server: publish again as soon as the routing table has one. */
  #publishedAlone = false;
  #started = false;

  private constructor(libp2p: MeshLibp2p, privateKey: PrivateKey, isAllowed: (peerId: string) => boolean, options: Required<Omit<MeshNodeOptions, 'dataDir'>>) {
    const { config } = options;
    this.isAllowed = isAllowed;
    this.#privateKey = privateKey;
    this.#libp2p = libp2p;
    this.#config = config;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.peerId = libp2p.peerId.toString();
    this.#scores = new PeerScores({ banAfterFailures: config.ban_after_failures, banBaseMs: config.ban_base_ms, banMaxMs: config.ban_max_ms, clock: this.#clock });
    // Kept when the cache is full: peers this node is connected to, and peers that have served it.
    this.#cache = new RecordCache(this.#clock, (id) => {
      const stats = this.#scores.get(id);
      if (stats && stats.requests > stats.failures) return true;
      return libp2p.getConnections().some((c) => c.remotePeer.toString() === id);
    });
    this.#exchange = new RecordExchange({
      ownRecord: () => this.#advertiser.record,
      onRecord: (bytes, peerId) => this.#acceptRecord(bytes, peerId),
      timeoutMs: RECORD_EXCHANGE_TIMEOUT_MS,
    });
    this.#advertiser = new Advertiser({
      peerId: this.peerId,
      privateKey,
      version: options.version,
      dht: libp2p.services.dht,
      addresses: () => this.multiaddrs(),
      pushToPeers: () => this.#pushRecord(),
      ttlMs: config.record_ttl_seconds * 1000,
      refreshBeforeMs: config.refresh_before_seconds * 1000,
      dhtTimeoutMs: config.dht_timeout_ms,
      clock: this.#clock,
      logger: this.#logger,
    });
    this.#requestBudget = new ByteBudget(config.request_read_budget_bytes);
    this.#server = new ForwardServer({
      selfId: this.peerId,
      maxHops: config.max_hops,
      maxConcurrent: config.max_concurrent,
      maxRequestBytes: config.max_request_bytes,
      heartbeatMs: config.heartbeat_ms,
      requestTimeoutMs: config.request_read_timeout_ms,
      requestMinBytesPerSecond: config.request_min_bytes_per_second,
      maxConcurrentPerPeer: config.max_concurrent_per_peer,
      requestBudget: this.#requestBudget,
      isAllowed: this.isAllowed,
      handler: () => this.#handler,
      logger: this.#logger,
    });
    this.#channels = new ForwardChannels({ libp2p, sessions: config.forward_sessions, clock: this.#clock });
    this.#finder = new PeerFinder({
      selfId: this.peerId,
      libp2p,
      dht: libp2p.services.dht,
      cache: this.#cache,
      scores: this.#scores,
      isAllowed: this.isAllowed,
      exchange: (id) => this.#exchange.exchange(this.#libp2p, id),
      acceptRecord: (bytes, id) => this.#acceptRecord(bytes, id),
      dhtTimeoutMs: config.dht_timeout_ms,
      clock: this.#clock,
      logger: this.#logger,
    });
  }

  static async create(options: MeshNodeOptions): Promise<MeshNode> {
    const clock = options.clock ?? Date.now;
    const logger = options.logger ?? pino({ level: 'silent' });
    const { config } = options;
    const privateKey = await loadOrCreatePeerKey(options.dataDir);
    const allowed = new Set(config.allow_peers);
    const isAllowed = (id: string) => allowed.size === 0 || allowed.has(id);
    const libp2p = await createMeshLibp2p({ privateKey, listen: config.listen, psk: config.psk, isAllowed, clock });
    return new MeshNode(libp2p, privateKey, isAllowed, { config, version: options.version, logger, clock });
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const streamLimits = { maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION };
    await this.#libp2p.handle(FORWARD_PROTOCOL, this.#server.handle, streamLimits);
    if (this.#config.forward_sessions) {
      await this.#libp2p.handle(FORWARD_PROTOCOL_V2, this.#server.handleSession, { maxInboundStreams: MAX_SESSIONS_PER_CONNECTION, maxOutboundStreams: MAX_SESSIONS_PER_CONNECTION });
    }
    // The handler holds each peer to MAX_RECORD_EXCHANGES_PER_PEER over all its connections; libp2p's own count per
    // connection (which includes streams still closing) is kept just above it, so a burst is cut before the handler.
    const recordStreams = 2 * MAX_RECORD_EXCHANGES_PER_PEER;
    await this.#libp2p.handle(RECORD_PROTOCOL, this.#exchange.handle, { maxInboundStreams: recordStreams, maxOutboundStreams: recordStreams });
    this.#libp2p.addEventListener('peer:identify', this.#onIdentify);
    this.#routingTable.addEventListener('peer:add', this.#onRoutingPeer);
    try {
      await this.#libp2p.start();
    } catch (err) {
      this.#started = false;
      throw err;
    }
    await this.#dialBootstrap();
    if (this.#config.bootstrap.length > 0) await this.#routingTableReady();
    this.#publishedAlone = this.#routingTable.size === 0;
    await this.#advertiser.start();
    this.#bootstrapTimer = setInterval(() => void this.#dialBootstrap(), BOOTSTRAP_RETRY_MS);
    this.#bootstrapTimer.unref();
    this.#logger.info({ peerId: this.peerId, addresses: this.multiaddrs() }, 'mesh: node started');
  }

  /** Withdraws the record (tombstone to the DHT and to connected peers), then stops libp2p. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearInterval(this.#bootstrapTimer);
    this.#libp2p.removeEventListener('peer:identify', this.#onIdentify);
    this.#routingTable.removeEventListener('peer:add', this.#onRoutingPeer);
    await this.#advertiser.withdraw().catch((err: Error) => this.#logger.warn({ err: err.message }, 'mesh: withdraw failed'));
    this.#channels.closeAll();
    await this.#libp2p.stop();
    // libp2p's address manager re-arms a 1 s debounce timer (ref'd) on every 'transport:close' and has no stop(), so a
    // stopped node held its process open for another second, then wrote to a stopped peer store. Cancel it (libp2p
    // 3.x internals, so every step is optional).
    const internals = this.#libp2p as unknown as { components?: { addressManager?: { _updatePeerStoreAddresses?: { stop?: () => void } } } };
    internals.components?.addressManager?._updatePeerStoreAddresses?.stop?.();
  }

  /** Listening addresses with the /p2p/<peer id> suffix, as a peer's bootstrap list wants them. */
  multiaddrs(): string[] {
    return this.#libp2p.getMultiaddrs().map((ma) => ma.toString());
  }

  setForwardHandler(handler: ForwardHandler): void {
    this.#handler = handler;
  }

  /** What this node serves (may be set before start); republished on a model change or a large capacity change. */
  setAdvertisement(ad: Advertisement): void {
    this.#advertiser.update(ad);
  }

  /** Publishes the current advertisement now (normally done by setAdvertisement and the refresh timer). */
  republish(): Promise<void> {
    return this.#advertiser.publish();
  }

  /** Peers whose live signed record lists `model`, best first; banned and excluded peers left out. */
  findPeersForModel(model: string, opts: { exclude?: string[]; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<RankedPeer[]> {
    return this.#finder.find(model, opts);
  }

  /**
   * The prices peers advertise for `model` in their live signed records (USD per million tokens), for the routing
   * engine's pricing filter; peers that advertise none, banned and disallowed peers are left out.
   */
  peerPrices(model: string): Array<{ peerId: string; inputPerMTok: number; outputPerMTok: number }> {
    const prices: Array<{ peerId: string; inputPerMTok: number; outputPerMTok: number }> = [];
    for (const record of this.#cache.live()) {
      if (record.peerId === this.peerId || !this.isAllowed(record.peerId) || this.#scores.isBanned(record.peerId)) continue;
      const price = record.models.find((m) => m.id === model)?.price;
      if (price) prices.push({ peerId: record.peerId, inputPerMTok: price.inputPerMTok, outputPerMTok: price.outputPerMTok });
    }
    return prices;
  }

  /**
   * The entry for `model` in `peerId`'s live signed record (its price, capabilities); undefined when the peer has no
   * live record or its record does not list the model. One map look-up: asked on every forward and every receipt.
   */
  advertisedModel(peerId: string, model: string): ModelAdvert | undefined {
    if (peerId === this.peerId) return undefined;
    const record = this.#cache.get(peerId);
    return record && !record.withdrawn ? record.models.find((m) => m.id === model) : undefined;
  }

  /** Models served by peers known right now (model id → peer ids), for GET /v1/models. */
  knownModels(): Map<string, string[]> {
    const models = new Map<string, string[]>();
    for (const record of this.#cache.live()) {
      if (record.peerId === this.peerId || !this.isAllowed(record.peerId)) continue;
      for (const model of record.models) models.set(model.id, [...(models.get(model.id) ?? []), record.peerId]);
    }
    return models;
  }

  /** The live signed records of allowed peers this node knows now (not its own). */
  peerRecords(): RecordPayload[] {
    return this.#cache.live().filter((record) => record.peerId !== this.peerId && this.isAllowed(record.peerId));
  }

  /** Whether a connection to `peerId` is open now. */
  isConnected(peerId: string): boolean {
    return this.#libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId);
  }

  /** Calls `listener` with each newer peer record this node accepts (including tombstones); returns an unsubscribe. */
  onPeerRecord(listener: (record: RecordPayload) => void): () => void {
    this.#recordListeners.add(listener);
    return () => this.#recordListeners.delete(listener);
  }

  /**
   * Serves a request/response protocol of one JSON message each way (e.g. `/meshgate/ledger/1.0.0`); `admit`, when
   * given, is asked before each message is read (a per-peer rate limit) and may refuse it with an error.
   */
  async handleMessages(protocol: string, handler: MessageHandler, admit?: MessageAdmission, bounds?: MessageBounds): Promise<void> {
    const guarded: MessageHandler = async (message, peerId) => {
      if (!this.isAllowed(peerId)) return { ok: false, error: 'peer not allowed' };
      return handler(message, peerId);
    };
    await this.#libp2p.handle(protocol, messageStreamHandler(guarded, REQUEST_FRAME_TIMEOUT_MS, admit, bounds), { maxInboundStreams: MAX_STREAMS_PER_CONNECTION });
  }

  /** Sends one JSON message on `protocol` to a peer and returns its answer. */
  sendMessage(peerId: string, protocol: string, message: unknown, timeoutMs = this.#config.dht_timeout_ms): Promise<unknown> {
    return sendMessage(this.#libp2p, peerId, protocol, message, timeoutMs);
  }

  /** The node's Ed25519 key bytes, for signing receipts with the key its peer id names. Never leaves the process. */
  get privateKeyBytes(): Uint8Array {
    return this.#privateKey.raw;
  }

  /** Resolves when the peer's head arrives; see ForwardResult for the body and trailer. */
  forward(peerId: string, frame: ForwardRequestFrame, signal: AbortSignal): Promise<ForwardResult> {
    return forwardToPeer(
      {
        channels: this.#channels, scores: this.#scores, isAllowed: this.isAllowed, idleTimeoutMs: 4 * this.#config.heartbeat_ms, dialTimeoutMs: this.#config.dht_timeout_ms,
        headTimeoutMs: frame.stream ? this.#config.stream_head_timeout_ms : this.#config.head_timeout_ms,
      },
      peerId, frame, signal,
    );
  }

  /** 2.0.0 sessions this node has open to peers it forwards to (one per peer). */
  get forwardSessions(): number {
    return this.#channels.sessions;
  }

  /** Forwarded requests this node is serving right now. */
  get inFlight(): number {
    return this.#server.inFlight;
  }

  /** Refuses new forwarded requests ('busy') and resolves once those being served are done (see ForwardServer.drain). */
  drainForwards(): Promise<void> {
    return this.#server.drain();
  }

  status(): MeshStatus {
    const own = this.#advertiser.payload;
    const connected = new Set(this.#libp2p.getConnections().map((c) => c.remotePeer.toString()));
    return {
      peerId: this.peerId,
      addresses: this.multiaddrs(),
      forward: this.#config.forward,
      maxHops: this.#config.max_hops,
      inFlight: this.#server.inFlight,
      requestBytesReading: this.#requestBudget.capacity - this.#requestBudget.available,
      ...(own ? { record: { seq: own.seq, expiresAt: own.expiresAt, models: own.models.length } } : {}),
      connections: connected.size,
      peers: peerStatuses(this.#cache.live().filter((r) => r.peerId !== this.peerId), this.#scores, connected),
    };
  }


  async #acceptRecord(bytes: Uint8Array, peerId: string): Promise<void> {
    try {
      const cached = this.#cache.get(peerId);
      const payload = await this.#cache.accept(bytes, peerId);
      if (payload !== cached) for (const listener of this.#recordListeners) listener(payload);
      const addrs = payload.addrs.flatMap((text) => {
        try {
          return [multiaddr(text)];
        } catch {
          return [];
        }
      });
      if (addrs.length > 0 && peerId !== this.peerId) await this.#libp2p.peerStore.merge(peerIdFromString(peerId), { multiaddrs: addrs });
    } catch (err) {
      this.#logger.debug({ peer: peerId, err: (err as Error).message }, 'mesh: record rejected');
    }
  }

  /** A newly identified peer that speaks the record protocol: swap records at once (fast discovery on a LAN). */
  readonly #onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols } = evt.detail;
    if (!protocols.includes(RECORD_PROTOCOL) || !this.isAllowed(peerId.toString())) return;
    void this.#exchange.exchange(this.#libp2p, peerId.toString());
  };

  /**
   * kad-dht's public RoutingTable type shows only `size`; the instance is an event target that announces each peer
   * it adds ('peer:add'), which is how the first DHT peer is awaited without polling.
   */
  get #routingTable(): { size: number } & Pick<EventTarget, 'addEventListener' | 'removeEventListener'> {
    return this.#libp2p.services.dht.routingTable as unknown as { size: number } & Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  }

  /** Waits (bounded) for the first DHT peer, so the first publish reaches a server instead of only this node. */
  async #routingTableReady(): Promise<void> {
    const table = this.#routingTable;
    if (table.size > 0) return;
    const signal = AbortSignal.timeout(this.#config.dht_timeout_ms);
    await new Promise<void>((resolve) => {
      const done = () => {
        table.removeEventListener('peer:add', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      table.addEventListener('peer:add', done);
      signal.addEventListener('abort', done);
    });
  }

  readonly #onRoutingPeer = (): void => {
    if (!this.#publishedAlone || !this.#started) return;
    this.#publishedAlone = false;
    void this.#advertiser.publish();
  };

  async #pushRecord(): Promise<void> {
    const peers = [...new Set(this.#libp2p.getConnections().map((c) => c.remotePeer.toString()))];
    for (let i = 0; i < peers.length; i += PUSH_CONCURRENCY) {
      await Promise.all(peers.slice(i, i + PUSH_CONCURRENCY).map((id) => this.#exchange.exchange(this.#libp2p, id)));
    }
  }

  async #dialBootstrap(): Promise<void> {
    await Promise.all(
      this.#config.bootstrap.map(async (text) => {
        const addr = multiaddr(text);
        const peerId = addr.getComponents().findLast((c) => c.name === 'p2p')?.value;
        if (!peerId || peerId === this.peerId) return;
        if (this.#libp2p.getConnections().some((c) => c.remotePeer.toString() === peerId)) return;
        try {
          await this.#libp2p.dial(addr, { signal: AbortSignal.timeout(this.#config.dht_timeout_ms) });
        } catch (err) {
          this.#logger.warn({ address: text, err: (err as Error).message }, 'mesh: bootstrap peer unreachable');
        }
      }),
    );
  }
}
