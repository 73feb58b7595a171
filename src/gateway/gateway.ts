import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { adminRoutes, createAccessControl, type AccessControl } from '../auth/index.js';
import { buildApp } from '../http/app.js';
import { Ledger, ledgerRoutes, signingKeyFromRaw } from '../ledger/index.js';
import type { MeshNode, ModelAdvert } from '../mesh/index.js';
import { VERSION } from '../version.js';
import { forwardHandler, peerForwarder } from './mesh-bridge.js';
import { LedgerReconciler } from './ledger-reconciler.js';
import { AckBatcher, LEDGER_PROTOCOL, ledgerMessageHandler } from './mesh-ledger.js';
import { advertisedPrice } from './mesh-services.js';
import { createMetrics, metricsRoute, type GatewayMetrics } from '../metrics/index.js';
import { PriceBook } from '../pricing/index.js';
import { OutcomeRecorder, RecordStore, recordsRoutes } from '../records/index.js';
import { createLogger } from '../logging/logger.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { pricedAdmission } from '../pipeline/admission.js';
import { logOutcome, OutcomeListeners } from '../pipeline/outcomes.js';
import { sanitizeStep } from '../pipeline/sanitize-step.js';
import type { Outcome } from '../pipeline/types.js';
import { createProvider, type Provider } from '../providers/index.js';
import { CircuitBreaker } from '../router/circuit-breaker.js';
import { ModelCatalog } from '../router/model-catalog.js';
import { Store } from '../store/index.js';

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
  readonly priceBook: PriceBook;
  readonly metrics: GatewayMetrics;
  mesh?: MeshNode;
  ledger?: Ledger;
  reconciler?: LedgerReconciler;
  private acks?: AckBatcher;
  private advertiseTimer?: NodeJS.Timeout;
  private recorder?: OutcomeRecorder;
  url = '';
  private readonly outcomes: OutcomeListeners;
  private closing?: Promise<void>;

  constructor(config: Config, private readonly options: GatewayOptions = {}) {
    this.config = config;
    this.logger = options.logger ?? createLogger();
    this.providers = config.providers.map(createProvider);
    this.priceBook = new PriceBook(config.pricing);
    this.catalog = new ModelCatalog(this.providers, this.logger);
    this.outcomes = new OutcomeListeners(this.logger);
    this.outcomes.add((outcome) => logOutcome(this.logger, outcome));
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
    this.pipeline = new Pipeline({
      config,
      catalog: this.catalog,
      breakers: this.breakers,
      logger: this.logger,
      admit: pricedAdmission({ quotas: { reserve: (principal, input) => this.access.quotas.reserve(principal, input) }, priceBook: this.priceBook, providerType: (id) => this.providerType(id), onQuotaRefused: (code) => this.metrics.quotaRejected(code) }),
      sanitize: sanitizeStep(config.sanitization),
      providerKey: (principal, providerId) => this.access.virtualKeys.providerKey(principal, providerId),
      onComplete: (outcome) => this.outcomes.emit(outcome),
      onFailover: (from, to) => {
        this.logger.info({ from, to }, 'failing over');
        this.metrics.failover(from, to);
      },
    });
  }

  private providerType(providerId: string | undefined) {
    return this.providers.find((p) => p.id === providerId)?.type;
  }

  /** Subscribes to every finished request (records, metrics, tests). */
  onComplete(listener: (outcome: Outcome) => void): () => void {
    return this.outcomes.add(listener);
  }

  async start(): Promise<string> {
    this.store = await Store.open(this.config.storage.dir);
    this.access = await createAccessControl({
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
    this.recorder = new OutcomeRecorder(this.records, { priceBook: this.priceBook, providerType: (id) => this.providerType(id), onRecord: (record) => this.metrics.observeRecord(record), logger: this.logger });
    this.outcomes.add((outcome) => this.recorder?.record(outcome));
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
        prices: this.priceBook,
      },
      authenticate: async (request) => {
        const ip = this.access.authenticator.clientIp({ headers: request.headers, socketAddress: request.socket.remoteAddress });
        request.clientIp = ip;
        return this.access.authenticator.authenticate({ headers: request.headers, ip });
      },
      authorizeAdmin: async (request) => this.access.admin.authorize(request.headers),
      corsHeaders: async (request) => {
        const origin = request.headers.origin;
        const requested = request.headers['access-control-request-headers'];
        return this.access.cors.headersFor(typeof origin === 'string' ? origin : undefined, request.principal, typeof requested === 'string' ? requested : undefined);
      },
      adminPlugins: [adminRoutes(this.access.tokens, this.access.admin), recordsRoutes(this.records), ...(this.ledger ? [ledgerRoutes(this.ledger, this.reconciler)] : [])],
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
    this.ledger = Ledger.open(this.store, mesh.peerId, signingKeyFromRaw(mesh.privateKeyBytes), creditLimit === undefined ? {} : { creditLimitMicros: Math.round(creditLimit * 1e6) });
    mesh.setForwardHandler(forwardHandler(this.pipeline, { logger: this.logger, ledger: this.ledger, priceOf: (model) => advertisedPrice(this.priceBook, model) }));
    mesh.setAdvertisement(this.advertisement());
    // Before start: a peer that sees this node's record may ask for reconciliation at once.
    await mesh.handleMessages(LEDGER_PROTOCOL, ledgerMessageHandler(this.ledger));
    await mesh.start();
    this.acks = new AckBatcher(mesh, this.logger);
    this.reconciler = new LedgerReconciler(mesh, this.ledger, this.logger, { intervalMs: this.config.mesh.reconcile_interval_seconds * 1000 });
    this.reconciler.start();
    this.pipeline.attachPeers(peerForwarder(mesh, {
      forward: this.config.mesh.forward, maxHops: this.config.mesh.max_hops, lookupTimeoutMs: this.config.mesh.dht_timeout_ms,
      ledger: { ledger: this.ledger, acks: this.acks }, logger: this.logger,
    }));
    // Capacity changes are cheap to report; the advertiser republishes only on model or large capacity changes.
    this.advertiseTimer = setInterval(() => mesh.setAdvertisement(this.advertisement()), 1_000);
    this.advertiseTimer.unref();
    this.mesh = mesh;
  }

  /** This node's models (local providers only: a node never advertises what it would have to forward) and capacity. */
  private advertisement() {
    const models: ModelAdvert[] = this.catalog.list().map(({ id }) => {
      const price = advertisedPrice(this.priceBook, id);
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

  private async shutdown(): Promise<void> {
    this.catalog.stop();
    if (this.app) {
      const grace = setTimeout(() => this.app.server.closeAllConnections(), this.config.server.shutdown_grace_seconds * 1000);
      await this.app.close();
      clearTimeout(grace);
    }
    clearInterval(this.advertiseTimer);
    this.pipeline.attachPeers(undefined);
    await this.acks?.close();
    await this.reconciler?.stop();
    await this.mesh?.stop().catch((err: Error) => this.logger.warn({ err: err.message }, 'mesh: stop failed'));
    await Promise.all(this.providers.map((p) => p.close()));
    await this.recorder?.drain();
    await this.records?.close();
    await this.access?.close();
    await this.store?.close();
  }
}
