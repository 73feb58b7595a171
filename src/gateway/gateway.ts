import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { usdToMicros } from '../core/index.js';
import { GatewayError } from '../errors/index.js';
import { Analytics, analyticsRoutes } from '../analytics/index.js';
import { AccessControl, adminRoutes } from '../auth/index.js';
import { buildApp } from '../http/app.js';
import { AckBatcher, LEDGER_PROTOCOL, Ledger, LedgerMessageRate, LedgerReconciler, ledgerMessageHandler, ledgerRoutes, signingKeyFromRaw, type AdvertisedPrice, type LedgerTransport } from '../ledger/index.js';
import type { MeshNode, ModelAdvert } from '../mesh/index.js';
import { VERSION } from '../version.js';
import { forwardHandler, peerForwarder, receiptPrice } from './mesh-bridge.js';
import { createMetrics, metricsRoute, type GatewayMetrics } from '../metrics/index.js';
import { PriceBook } from '../pricing/index.js';
import { RecordStore, recordsRoutes, usageRecordFromOutcome } from '../records/index.js';
import { complianceError, createSanitizer, findingsHeader } from '../sanitize/index.js';
import { createLogger } from '../logging/logger.js';
import { Pipeline } from '../pipeline/pipeline.js';
import type { Admission } from '../pipeline/pipeline.js';
import type { GatewayRequest, Outcome } from '../pipeline/types.js';
import { createProvider, type Provider } from '../providers/index.js';
import { CircuitBreaker } from '../router/circuit-breaker.js';
import { ModelCatalog } from '../router/model-catalog.js';
import { Store } from '../store/index.js';

/** Ledger messages to a peer over the mesh's `/meshgate/ledger/1.0.0` streams. */
export function ledgerTransportOver(mesh: MeshNode): LedgerTransport {
  return { request: (peerId, message) => mesh.sendMessage(peerId, LEDGER_PROTOCOL, message) };
}

/** What a peer advertises for a model now, in receipt units; undefined when its record does not list the model. */
function advertisedPriceOf(mesh: MeshNode): AdvertisedPrice {
  return (peerId, model) => {
    const advert = mesh.status().peers.find((p) => p.peerId === peerId)?.models.find((m) => m.id === model);
    return advert && receiptPrice(advert.price);
  };
}

export interface GatewayOptions {
  logger?: Logger;
  /** Skip model discovery at start (tests that configure fixed model lists do not need it). */
  skipDiscovery?: boolean;
}

/**
 * One meshgate node: providers, catalog, circuit breakers, pipeline, HTTP app and storage, started and stopped as a
 * unit. `start()` listens; `close()` drains in-flight requests (up to the grace period), then releases everything.
 */
export class Gateway {
  readonly config: Config;
  readonly logger: Logger;
  readonly providers: Provider[];
  readonly catalog: ModelCatalog;
  readonly breakers = new Map<string, CircuitBreaker>();
  readonly pipeline: Pipeline;
  readonly startedAt = Date.now();
  store!: Store;
  app!: FastifyInstance;
  access!: AccessControl;
  records!: RecordStore;
  /** SQL over the usage records (/v1/query, /v1/ask). */
  analytics!: Analytics;
  readonly priceBook: PriceBook;
  readonly metrics: GatewayMetrics;
  mesh?: MeshNode;
  ledger?: Ledger;
  reconciler?: LedgerReconciler;
  private acks?: AckBatcher;
  private advertiseTimer?: NodeJS.Timeout;
  /** Record writes not yet on disk; shutdown waits for them. */
  private readonly pendingWrites = new Set<Promise<boolean>>();
  url = '';
  private readonly completions = new Set<(outcome: Outcome) => void>();
  private closing?: Promise<void>;

  constructor(config: Config, private readonly options: GatewayOptions = {}) {
    this.config = config;
    this.logger = options.logger ?? createLogger();
    this.providers = config.providers.map((provider) => createProvider(provider));
    this.priceBook = new PriceBook(config.pricing);
    this.catalog = new ModelCatalog(this.providers, this.logger);
    this.metrics = createMetrics({ isKnownModel: (model) => this.catalog.resolve(model).length > 0 || (this.mesh?.knownModels().has(model) ?? false) });
    for (const provider of this.providers) {
      const { circuit_breaker: cb } = config.routing;
      this.breakers.set(provider.id, new CircuitBreaker(
        { failureThreshold: cb.failure_threshold, cooldownMs: cb.cooldown_ms, maxCooldownMs: cb.max_cooldown_ms },
        (state) => {
          this.logger.warn({ provider: provider.id, state }, 'circuit breaker state changed');
          this.metrics.setCircuitState(provider.id, state);
        },
      ));
    }
    const sanitizer = createSanitizer(config.sanitization);
    this.pipeline = new Pipeline({
      config,
      catalog: this.catalog,
      breakers: this.breakers,
      logger: this.logger,
      admit: (req, estimate) => this.admit(req, estimate),
      sanitize: sanitizer.active
        ? (req) => {
            const result = sanitizer.scanRequest(req.body);
            return { body: result.body, findings: result.findings, refusal: result.blocked ? complianceError(result.findings) : undefined, header: findingsHeader(result.findings) };
          }
        : undefined,
      providerKey: (principal, providerId) => this.access.providerKey(principal, providerId),
      onComplete: (outcome) => this.complete(outcome),
      onFailover: (from, to) => {
        this.logger.info({ from, to }, 'failing over');
        this.metrics.failover(from, to);
      },
    });
  }

  /** Model permission, then a quota reservation sized by the estimate; settled with the real usage and cost at the end. */
  private async admit(req: GatewayRequest, estimate: { inputTokens: number; maxOutputTokens: number }): Promise<Admission> {
    this.access.checkModel(req.principal, req.model);
    const estimatedCost = this.priceBook.costOf({ model: req.model, usage: { inputTokens: estimate.inputTokens, outputTokens: estimate.maxOutputTokens } });
    let reservation: Awaited<ReturnType<AccessControl['reserve']>>;
    try {
      reservation = await this.access.reserve(req.principal, {
        ip: req.ip,
        model: req.model,
        estimatedTokens: estimate.inputTokens + estimate.maxOutputTokens,
        estimatedCostMicros: estimatedCost.costMicros ?? 0,
        priced: estimatedCost.priced,
      });
    } catch (err) {
      if (err instanceof GatewayError && err.status === 429) this.metrics.quotaRejected(err.code);
      throw err;
    }
    return {
      headers: reservation.headers,
      settle: (outcome) => {
        const usage = outcome.usage ?? { inputTokens: 0, outputTokens: 0 };
        const cost = this.priceBook.costOf({ providerType: this.providerType(outcome.provider), model: outcome.model ?? outcome.requestedModel, usage });
        return reservation.settle({ tokens: usage.inputTokens + usage.outputTokens, costMicros: cost.costMicros ?? undefined });
      },
      release: () => reservation.release(),
    };
  }

  private providerType(providerId: string | undefined) {
    return this.providers.find((p) => p.id === providerId)?.type;
  }

  /** Subscribes to every finished request (records, metrics, tests). */
  onComplete(listener: (outcome: Outcome) => void): () => void {
    this.completions.add(listener);
    return () => this.completions.delete(listener);
  }

  private complete(outcome: Outcome): void {
    this.logger.info(
      {
        requestId: outcome.requestId, model: outcome.requestedModel, provider: outcome.provider, peer: outcome.peer,
        status: outcome.status, attempts: outcome.attempts.length, latencyMs: outcome.latencyMs, ttftMs: outcome.ttftMs,
        inputTokens: outcome.usage?.inputTokens, outputTokens: outcome.usage?.outputTokens, stream: outcome.stream,
        ...(outcome.errorType ? { errorType: outcome.errorType } : {}),
      },
      'request completed',
    );
    if (this.records) {
      try {
        const record = usageRecordFromOutcome(outcome, { priceBook: this.priceBook, providerType: this.providerType(outcome.provider) });
        this.metrics.observeRecord(record);
        const write = this.records.write(record);
        this.analytics?.add(record);
        this.pendingWrites.add(write);
        void write.finally(() => this.pendingWrites.delete(write));
      } catch (err) {
        // A record that does not fit the schema is a bug to fix, never a reason to take the node down.
        this.logger.error({ err: (err as Error).message, requestId: outcome.requestId }, 'usage record refused');
      }
    }
    for (const listener of this.completions) {
      try {
        listener(outcome);
      } catch (err) {
        this.logger.error({ err }, 'completion listener failed');
      }
    }
  }

  async start(): Promise<string> {
    this.store = await Store.open(this.config.storage.dir);
    this.access = await AccessControl.create({
      auth: this.config.auth,
      keyMap: this.config.key_map,
      store: this.store,
      dataDir: this.config.storage.dir,
      trustProxy: this.config.server.trust_proxy,
      peerLimits: this.config.mesh.peer_limits,
    });
    this.records = await RecordStore.open(this.store, {
      retentionDays: this.config.records.retention_days,
      flushIntervalMs: this.config.records.flush_interval_ms,
      logger: this.logger,
    });
    this.analytics = new Analytics({
      config: this.config.analytics, dataDir: this.config.storage.dir, records: this.records, retentionDays: this.config.records.retention_days,
      pipeline: this.pipeline, ledger: () => this.ledger, logger: this.logger,
    });
    if (!this.options.skipDiscovery) await this.catalog.start(this.config.routing.discovery_interval_seconds * 1000);
    if (this.config.mesh.enabled) await this.startMesh();
    this.app = await buildApp({
      config: this.config,
      logger: this.logger,
      pipeline: this.pipeline,
      info: {
        providers: this.providers, catalog: this.catalog, breakers: this.breakers, startedAt: this.startedAt,
        meshModels: this.mesh ? () => this.mesh!.knownModels() : undefined,
        health: this.mesh ? () => ({ mesh: { peer_id: this.mesh!.peerId, peers: this.mesh!.status().peers.length, connections: this.mesh!.status().connections } }) : undefined,
        modelFacts: (model) => {
          const price = this.priceBook.priceFor(model);
          return price && {
            contextLength: price.contextWindow,
            pricing: { input: price.inputPerMTok, output: price.outputPerMTok, ...(price.cachedInputPerMTok !== undefined ? { cached_input: price.cachedInputPerMTok } : {}) },
          };
        },
      },
      authenticate: async (request) => {
        const ip = this.access.clientIp({ headers: request.headers, socketAddress: request.socket.remoteAddress });
        request.clientIp = ip;
        return this.access.authenticate({ headers: request.headers, ip });
      },
      authorizeAdmin: async (request) => this.access.authorizeAdmin(request.headers),
      corsHeaders: async (request) => {
        const origin = request.headers.origin;
        const requested = request.headers['access-control-request-headers'];
        return this.access.corsHeaders(typeof origin === 'string' ? origin : undefined, request.principal, typeof requested === 'string' ? requested : undefined);
      },
      adminPlugins: [adminRoutes(this.access), recordsRoutes(this.records), analyticsRoutes(this.analytics), ...(this.ledger ? [ledgerRoutes(this.ledger, this.reconciler)] : [])],
      apiPlugins: this.mesh ? [(await import('../mesh/index.js')).meshRoutes(this.mesh)] : [],
      openPlugins: [metricsRoute(this.metrics)],
    });
    const address = await this.app.listen({ host: this.config.server.host, port: this.config.server.port });
    const { port } = new URL(address);
    this.url = `http://${this.config.server.host.includes(':') ? `[${this.config.server.host}]` : this.config.server.host}:${port}`;
    return this.url;
  }

  /**
   * Starts the libp2p node: serves forwarded requests through this node's pipeline, advertises its models (with
   * prices) and spare capacity, signs receipts for work it serves and checks those of work it asks peers for.
   */
  private async startMesh(): Promise<void> {
    const { MeshNode } = await import('../mesh/index.js');
    const mesh = await MeshNode.create({ config: this.config.mesh, dataDir: this.config.storage.dir, version: VERSION, logger: this.logger });
    const creditLimit = this.config.mesh.credit_limit_usd;
    this.ledger = Ledger.open(this.store, mesh.peerId, signingKeyFromRaw(mesh.privateKeyBytes), creditLimit === undefined ? {} : { creditLimitMicros: usdToMicros(creditLimit) });
    mesh.setForwardHandler(forwardHandler(this.pipeline, { logger: this.logger, ledger: this.ledger, priceOf: (model) => this.advertisedPrice(model) }));
    mesh.setAdvertisement(this.advertisement());
    // Before start: a peer that sees this node's record may ask for reconciliation at once.
    const rate = new LedgerMessageRate(this.config.mesh.ledger_messages_per_second);
    await mesh.handleMessages(LEDGER_PROTOCOL, ledgerMessageHandler(this.ledger), (peerId) =>
      rate.admit(peerId) ? undefined : `rate limited: more than ${rate.rate} ledger messages per second from this peer; try again later`);
    await mesh.start();
    const transport = ledgerTransportOver(mesh);
    const priceOf = advertisedPriceOf(mesh);
    this.acks = new AckBatcher(transport, this.logger);
    this.reconciler = new LedgerReconciler(transport, this.ledger, this.logger, {
      intervalMs: this.config.mesh.reconcile_interval_seconds * 1000,
      peerSeen: (listener) => mesh.onPeerRecord((record) => record.withdrawn || listener(record.peerId)),
      priceOf,
    });
    this.reconciler.start();
    this.pipeline.attachPeers(peerForwarder(mesh, {
      forward: this.config.mesh.forward, maxHops: this.config.mesh.max_hops, lookupTimeoutMs: this.config.mesh.dht_timeout_ms,
      ledger: { ledger: this.ledger, acks: this.acks, transport, priceOf }, logger: this.logger,
    }));
    // Capacity changes are cheap to report; the advertiser republishes only on model or large capacity changes.
    this.advertiseTimer = setInterval(() => mesh.setAdvertisement(this.advertisement()), 1_000);
    this.advertiseTimer.unref();
    this.mesh = mesh;
  }

  private advertisedPrice(model: string): ModelAdvert['price'] | undefined {
    const price = this.priceBook.priceFor(model);
    return price && { inputPerMTok: price.inputPerMTok, outputPerMTok: price.outputPerMTok, ...(price.cachedInputPerMTok !== undefined ? { cachedInputPerMTok: price.cachedInputPerMTok } : {}) };
  }

  /** This node's models (local providers only: a node never advertises what it would have to forward) and capacity. */
  private advertisement() {
    const models: ModelAdvert[] = this.catalog.list().map(({ id }) => {
      const price = this.advertisedPrice(id);
      const context = this.priceBook.priceFor(id)?.contextWindow;
      return { id, capabilities: ['chat'], ...(context ? { contextLength: context } : {}), ...(price ? { price } : {}) };
    });
    return { models, capacity: { maxConcurrent: this.config.server.max_concurrent, inFlight: this.pipeline.load } };
  }

  /** Stops accepting requests, lets in-flight ones finish within the grace period, then closes everything. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /**
   * Stop accepting, wait for in-flight exchanges (streams included) for at most the grace period, abort what is left,
   * then release the mesh, the upstream connection pools, pending record writes and LevelDB, in that order. Returns
   * as soon as the last exchange is done: the grace period is only the upper bound.
   */
  private async shutdown(): Promise<void> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const graceMs = this.config.server.shutdown_grace_seconds * 1000;
    this.catalog.stop();
    // Requests served for peers drain alongside the HTTP ones; new ones are refused as 'busy' from now on.
    const forwards = this.mesh?.drainForwards();
    if (this.mesh) this.logger.info({ inFlight: this.mesh.inFlight }, 'shutdown: refusing new forwarded requests, finishing those in flight');
    if (this.app) {
      const { drain } = this.app;
      this.logger.info({ inFlight: drain.inFlight, graceMs }, 'shutdown: stopped accepting requests, draining in-flight ones');
      const grace = setTimeout(() => {
        this.logger.warn({ inFlight: drain.inFlight, graceMs }, 'shutdown: grace period over, aborting what is still in flight');
        this.app.server.closeAllConnections();
      }, graceMs);
      await this.app.close();
      clearTimeout(grace);
      this.logger.info({ ms: elapsed() }, 'shutdown: HTTP server closed');
    }
    if (forwards && !(await settlesWithin(forwards, graceMs - elapsed()))) {
      this.logger.warn({ inFlight: this.mesh?.inFlight, graceMs }, 'shutdown: grace period over, aborting forwarded requests still in flight');
    }
    clearInterval(this.advertiseTimer);
    this.pipeline.attachPeers(undefined);
    await this.acks?.close();
    await this.reconciler?.stop();
    await this.mesh?.stop().catch((err: Error) => this.logger.warn({ err: err.message }, 'mesh: stop failed'));
    await Promise.all(this.providers.map((p) => p.close()));
    const pendingRecords = this.pendingWrites.size;
    await Promise.all([...this.pendingWrites]);
    await this.analytics?.close();
    await this.records?.close();
    await this.access?.close();
    await this.store?.close();
    this.logger.info({ ms: elapsed(), pendingRecords }, 'shutdown: complete (records, ledger and storage closed)');
  }
}

/** Whether `promise` settles within `ms` (the timer is dropped either way). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
