import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { Analytics, analyticsRoutes } from '../analytics/index.js';
import { adminRoutes, createAccessControl, type AccessControl } from '../auth/index.js';
import { buildApp } from '../http/app.js';
import { queryKeyOf } from '../http/query-key.js';
import type { MeshNode } from '../mesh/index.js';
import { createMetrics, metricsRoute, type GatewayMetrics } from '../metrics/index.js';
import { PriceBook } from '../pricing/index.js';
import { OutcomeRecorder, RecordStore, recordsRoutes, usageRoutes } from '../records/index.js';
import { RedisResponseStore, ResponseStore, type StoredResponses } from '../responses/index.js';
import { responsesRoutes } from '../http/routes/responses.js';
import { portalRoutes } from '../portal/index.js';
import { createLogger } from '../logging/logger.js';
import { logReclaimed } from './idle-memory.js';
import { watchIdle, type IdleWatch } from './idle-watch.js';
import { pricedAdmission } from '../pipeline/admission.js';
import { logOutcome, OutcomeListeners } from '../pipeline/outcomes.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { sanitizeStep } from '../pipeline/sanitize-step.js';
import type { Outcome } from '../pipeline/types.js';
import type { Provider } from '../providers/index.js';
import { ProviderRegistry, RuntimeProviderStore, SealedBox, providerAdminRoutes } from '../provider-admin/index.js';
import { CircuitBreaker, type CircuitState } from '../router/circuit-breaker.js';
import { SharedCircuits, type CircuitStateStore } from '../router/shared-circuit-breaker.js';
import { ModelCatalog } from '../router/model-catalog.js';
import { Router } from '../router/router.js';
import { routingRoutes, routingSignalsRoute } from '../http/routes/routing.js';
import { createState, type StateBackend } from '../state/index.js';
import { Store } from '../store/index.js';
import { LevelResponseCache, RedisResponseCache, ResponseCache } from '../cache/index.js';
import { createSanitizer } from '../sanitize/index.js';
import { QualitySignalService, SignalStore, signalsRoutes, signalsSummaryRoute } from '../signals/index.js';
import { ledgerRoutes, type Ledger, type LedgerReconciler } from '../ledger/index.js';
import type { MeshServices } from './mesh-services.js';
import { Federation, federationRoutes, settledOutcome } from '../federation/index.js';
import { ConfigReloader, reloadRoute, type ReloadResult } from './config-reload.js';
import type { PeerForwarder } from '../pipeline/peer-attempt.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Skip model discovery at start (tests that configure fixed model lists do not need it). */
  skipDiscovery?: boolean;
  /**
   * Reads the config file again (`SIGHUP`, `POST /v1/admin/reload`), with the same command-line overrides as at
   * start; absent (a node started without a file) → reload is refused as unavailable.
   */
  reloadConfig?: () => Promise<Config>;
  /** The file `reloadConfig` reads, for messages. */
  configSource?: string;
  /**
   * Set when this node's config and providers cannot change while it runs (the primary of a node with workers, each
   * holding its own): reload and run-time provider changes are refused with this reason.
   */
  fixedConfig?: string;
  /**
   * The primary process of a node with workers (`server.workers` > 1): listen on this Unix socket instead of
   * `[server] host:port` — only the node's workers connect to it — and take each request's client address from the
   * `x-meshgate-client-address` header its worker sets (on this socket only; never from the public port).
   */
  internalSocket?: string;
  /**
   * Where this node's providers' circuits are shared when no state backend shares them (the primary of a node with
   * workers: a store in its memory that its workers reach over IPC, so a circuit opened at one is open at all).
   */
  circuitStore?: CircuitStateStore;
  /**
   * This node owns its process (`meshgate start`): at the start of each idle spell it gives back the free pages the
   * load left in malloc's heaps, process-wide (malloc_trim: src/gateway/idle-memory.ts). Off for a gateway embedded in
   * another program, whose memory is not the gateway's to manage.
   */
  reclaimIdleMemory?: boolean;
}

/** The header a worker names the client's address in when it hands a request to its primary (internal socket only). */
export const CLIENT_ADDRESS_HEADER = 'x-meshgate-client-address';

/** Everything a running node is made of, built in dependency order by `Gateway.start`. */
interface GatewayParts {
  config: Config;
  logger: Logger;
  registry: ProviderRegistry;
  reloader: ConfigReloader;
  catalog: ModelCatalog;
  router: Router;
  breakers: Map<string, CircuitBreaker>;
  priceBook: PriceBook;
  metrics: GatewayMetrics;
  store: Store;
  access: AccessControl;
  state?: StateBackend;
  circuits?: SharedCircuits;
  records: RecordStore;
  responses: StoredResponses;
  analytics: Analytics;
  cache?: ResponseCache;
  signals: QualitySignalService;
  recorder: OutcomeRecorder;
  outcomes: OutcomeListeners;
  meshServices?: MeshServices;
  federation?: Federation;
  pipeline: Pipeline;
  idle: IdleWatch;
  app: FastifyInstance;
  url: string;
  startedAt: number;
}

/**
 * One meshgate node, wired: providers, catalog, circuit breakers, storage, access control, records, the mesh, the
 * pipeline and the HTTP app, built in the order they depend on each other by `Gateway.start`, and stopped as a unit by
 * `close()`, which drains in-flight requests (up to the grace period), then releases everything.
 */
export class Gateway {
  readonly config: Config;
  readonly logger: Logger;
  /** The providers of the config file and those added at run time (`POST /v1/providers`). */
  readonly registry: ProviderRegistry;
  readonly catalog: ModelCatalog;
  /** The routing engine: groups, aliases, profiles and strategies over the catalog (`POST /v1/routing/explain`). */
  readonly router: Router;
  readonly breakers: Map<string, CircuitBreaker>;
  readonly priceBook: PriceBook;
  readonly metrics: GatewayMetrics;
  readonly store: Store;
  readonly access: AccessControl;
  /** The shared state backend (`[state] backend = "redis"`); absent: this node's LevelDB alone. */
  readonly state?: StateBackend;
  readonly records: RecordStore;
  /** Stored Responses-API objects (`store: true`), per principal; on the shared state backend when there is one. */
  readonly responses: StoredResponses;
  /** SQL over the usage records (/v1/query, /v1/ask). */
  readonly analytics: Analytics;
  /** The exact-match response cache, when `[cache] enabled`. */
  readonly cache?: ResponseCache;
  /** Quality signals and their decayed aggregate (`signals.aggregate` is the routing engine's QualitySignals). */
  readonly signals: QualitySignalService;
  readonly pipeline: Pipeline;
  /** Whether the node is serving or idle (the event-loop delay monitor runs only while it serves). */
  readonly idle: IdleWatch;
  readonly app: FastifyInstance;
  readonly mesh?: MeshNode;
  /** Federated access (trusted gateways' tokens; reservations for this gateway's own), when the mesh is enabled. */
  readonly federation?: Federation;
  readonly ledger?: Ledger;
  readonly reconciler?: LedgerReconciler;
  /** The URL the node listens on (`http://host:port`). */
  readonly url: string;
  readonly startedAt: number;
  private readonly circuits?: SharedCircuits;
  private readonly reloader: ConfigReloader;
  /** Writes every finished request's record (a primary process writes its workers' through it too). */
  readonly recorder: OutcomeRecorder;
  private readonly outcomes: OutcomeListeners;
  private readonly meshServices?: MeshServices;
  private closing?: Promise<void>;

  private constructor(parts: GatewayParts) {
    this.config = parts.config;
    this.logger = parts.logger;
    this.registry = parts.registry;
    this.reloader = parts.reloader;
    this.catalog = parts.catalog;
    this.router = parts.router;
    this.breakers = parts.breakers;
    this.priceBook = parts.priceBook;
    this.metrics = parts.metrics;
    this.store = parts.store;
    this.access = parts.access;
    this.state = parts.state;
    this.circuits = parts.circuits;
    this.records = parts.records;
    this.responses = parts.responses;
    this.analytics = parts.analytics;
    this.cache = parts.cache;
    this.signals = parts.signals;
    this.recorder = parts.recorder;
    this.outcomes = parts.outcomes;
    this.meshServices = parts.meshServices;
    this.mesh = parts.meshServices?.mesh;
    this.federation = parts.federation;
    this.ledger = parts.meshServices?.ledger;
    this.reconciler = parts.meshServices?.reconciler;
    this.pipeline = parts.pipeline;
    this.idle = parts.idle;
    this.app = parts.app;
    this.url = parts.url;
    this.startedAt = parts.startedAt;
  }

  /**
   * Builds and starts a node: storage, access control and records first, then the mesh (when enabled) so the
   * pipeline is built with its peers, then the HTTP app, which listens last. If any step fails, what was already
   * opened is closed again (the data directory's lock included) before the error is thrown.
   */
  static async start(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
    const startedAt = Date.now();
    const logger = options.logger ?? createLogger();
    const opened: Array<() => Promise<unknown>> = [];
    try {
      const priceBook = new PriceBook(config.pricing);
      // Filled by the provider registry below, once the store (run-time providers) and the admin key (their seal) are open.
      const catalog = new ModelCatalog([], logger);
      opened.push(async () => catalog.stop());
      opened.push(() => Promise.all(catalog.providers().map((p) => p.close())));
      let meshServices: MeshServices | undefined;
      const metrics = createMetrics({ isKnownModel: (model) => router.knows(model) || catalog.resolve(model).length > 0 || (meshServices?.mesh.knownModels().has(model) ?? false) });
      const breakers = new Map<string, CircuitBreaker>();
      const providerType = (id: string | undefined) => (id === undefined ? undefined : catalog.provider(id)?.type);

      const store = await Store.open(config.storage.dir);
      opened.push(() => store.close());
      const state = await createState({
        config: config.state, store, logger,
        onLatency: (operation, seconds) => metrics.observeStateOperation('redis', operation, seconds),
        onStatus: (up) => metrics.setStateBackendUp('redis', up),
      });
      if (state) opened.push(() => state.close());
      const circuitStore = state?.circuits ?? options.circuitStore;
      const circuits = circuitStore && new SharedCircuits({ store: circuitStore, refreshMs: config.state.circuit_refresh_ms, logger });
      if (circuits) opened.push(() => circuits.close());
      // Tokens of trusted gateways, and reservations for this gateway's own tokens: both over the mesh.
      const federation = config.mesh.enabled
        ? new Federation({
          config: config.federation, clockSkewSeconds: config.auth.clock_skew_seconds, logger,
          ...(config.state.backend === 'redis' ? { sharedReservationTtlSeconds: config.state.reservation_ttl_seconds } : {}),
          onSettled: (settled) => outcomes.emit(settledOutcome(settled)),
          onEvent: (side, outcome) => metrics.federationReservation(side, outcome),
        })
        : undefined;
      const access = await createAccessControl({
        state,
        ...(federation ? { federation: federation.accessHooks } : {}),
        auth: config.auth,
        keyMap: config.key_map,
        store,
        dataDir: config.storage.dir,
        trustProxy: config.server.trust_proxy,
        peerLimits: config.mesh.peer_limits,
      });
      opened.push(() => access.close());
      const registry = await ProviderRegistry.open({
        catalog, breakers, logger,
        newBreaker: (id) => circuitBreaker(config, id, logger, metrics, circuits),
        onRemoved: (id) => {
          circuits?.forget(id);
          metrics.forgetProvider(id);
        },
        settled: () => pipeline.settled(),
        store: new RuntimeProviderStore(store, new SealedBox(access.adminKey.secret)),
        fixed: options.fixedConfig,
      }, config.providers);
      opened.push(() => registry.close());
      const records = await RecordStore.open(store, {
        retentionDays: config.records.retention_days,
        flushIntervalMs: config.records.flush_interval_ms,
        logger,
      });
      opened.push(() => records.close());
      const responseRetentionDays = config.responses.retention_days ?? config.records.retention_days;
      const responses = state ? new RedisResponseStore(state.redisAccess, { retentionDays: responseRetentionDays }) : await ResponseStore.open(store, { retentionDays: responseRetentionDays, logger });
      opened.push(() => responses.close());
      const outcomes = new OutcomeListeners(logger);
      outcomes.add((outcome) => logOutcome(logger, outcome));
      const sanitizer = createSanitizer(config.sanitization);
      // Signals wait for the record of a request that is still finishing: the recorder (built below) says when.
      const signals = await QualitySignalService.open({
        store: new SignalStore(store), records, sanitizer, config: config.signals, retentionDays: config.records.retention_days,
        recordWritten: (id, timeoutMs) => recorder.written(id, timeoutMs),
      });
      opened.push(async () => signals.close());
      // The engine's Score layer reads quality from the signals' decayed aggregate; its load signal from the pipeline.
      const router = new Router({
        catalog, breakers, models: config.models, profiles: config.routing.profiles, fallbacks: config.routing.fallbacks,
        priceOf: (model, provider) => priceBook.priceFor(model, provider.type),
        inFlight: (providerId) => pipeline.providerLoad(providerId),
        quality: signals.aggregate.forRouting(),
      });
      let cache: ResponseCache | undefined;
      if (config.cache.enabled) {
        const { max_entries: maxEntries, max_bytes: maxBytes } = config.cache;
        const backend = state ? new RedisResponseCache(state.redisAccess, { maxEntries, maxBytes }) : await LevelResponseCache.open(store, { maxEntries, maxBytes });
        cache = new ResponseCache(config.cache, backend, logger);
        const openedCache = cache;
        opened.push(() => openedCache.close());
      }

      if (!options.skipDiscovery) await catalog.start(config.routing.discovery_interval_seconds * 1000);
      if (config.mesh.enabled) {
        // Loaded only when enabled: a node without the mesh never loads libp2p.
        const { MeshServices } = await import('./mesh-services.js');
        meshServices = await MeshServices.create({ config, store, logger, priceBook, access, federation });
        const created = meshServices;
        opened.push(() => created.stop());
      }
      const admit = pricedAdmission({ quotas: access.quotas, priceBook, providerType, onQuotaRefused: (code) => metrics.quotaRejected(code) });
      const idle = watchIdle({ inFlight: () => pipeline.load, lag: metrics.eventLoopLag, reclaim: options.reclaimIdleMemory ? logReclaimed(logger) : undefined, heapReclaimAfterMs: config.server.idle_heap_reclaim_seconds * 1000, flushBeforeHeap: () => store.flushMemtable() });
      opened.push(async () => idle.close());
      const pipeline = new Pipeline({
        activity: idle,
        config,
        catalog,
        router,
        breakers,
        logger,
        routingRules: (principal) => access.rules.routing(principal),
        sanitize: sanitizeStep(sanitizer),
        admit: (req, estimate) => {
          recorder.expect(req.id);
          return admit(req, estimate);
        },
        cache,
        providerKey: (principal, providerId) => access.virtualKeys.providerKey(principal, providerId),
        peers: meshServices?.forwarder,
        onComplete: (outcome) => outcomes.emit(outcome),
        onFailover: (from, to) => {
          logger.info({ from, to }, 'failing over');
          metrics.failover(from, to);
        },
      });
      await meshServices?.start({ catalog, pipeline });
      const analytics = new Analytics({
        config: config.analytics, dataDir: config.storage.dir, records, retentionDays: config.records.retention_days,
        pipeline, ledger: () => meshServices?.ledger, logger,
      });
      opened.push(() => analytics.close());
      // The SQL index copies what the record store wrote, read back at a quiet moment (or before a query).
      records.onWritten((keys) => analytics.add(keys));
      const recorder = new OutcomeRecorder(records, {
        priceBook, providerType, logger, countryOf: (ip) => access.authenticator.country(ip),
        onRecord: (record) => metrics.observeRecord(record),
      });
      opened.push(() => recorder.drain());
      outcomes.add((outcome) => recorder.record(outcome));

      const reloader = new ConfigReloader({
        config, load: options.reloadConfig, unavailable: options.fixedConfig, source: options.configSource ?? 'the config file', registry, router, priceBook, virtualKeys: access.virtualKeys, logger,
      });
      const mesh = meshServices?.mesh;
      const app = await buildApp({
        config,
        logger,
        pipeline,
        info: {
          catalog, breakers, startedAt, prices: priceBook, sourceOf: (id) => registry.sourceOf(id),
          routingNames: () => router.names(),
          meshModels: mesh && (() => mesh.knownModels()),
          health: () => ({
            state: state?.health() ?? { backend: 'embedded', status: 'ok' },
            ...(mesh ? { mesh: { peer_id: mesh.peerId, peers: mesh.status().peers.length, connections: mesh.status().connections } } : {}),
          }),
        },
        authenticate: async (request) => {
          const forwardedBy = options.internalSocket ? request.headers[CLIENT_ADDRESS_HEADER] : undefined;
          const socketAddress = typeof forwardedBy === 'string' && forwardedBy !== '' ? forwardedBy : request.socket.remoteAddress;
          const ip = access.authenticator.clientIp({ headers: request.headers, socketAddress });
          request.clientIp = ip;
          return access.authenticator.authenticate({ headers: request.headers, ip, queryKeys: queryKeyOf(request.raw, request.url) });
        },
        authorizeAdmin: async (request) => access.admin.authorize(request.headers),
        corsHeaders: async (request) => {
          const origin = request.headers.origin;
          const requested = request.headers['access-control-request-headers'];
          return access.cors.headersFor(typeof origin === 'string' ? origin : undefined, request.principal, typeof requested === 'string' ? requested : undefined);
        },
        adminPlugins: [
          adminRoutes(access.tokens, access.admin),
          providerAdminRoutes(registry),
          reloadRoute(reloader),
          recordsRoutes(records),
          usageRoutes(records),
          analyticsRoutes(analytics),
          signalsSummaryRoute(signals),
          routingRoutes(pipeline),
          routingSignalsRoute(router.stats, signals.aggregate),
          ...(meshServices ? [ledgerRoutes(meshServices.ledger, meshServices.reconciler)] : []),
          ...(federation ? [federationRoutes(federation)] : []),
        ],
        apiPlugins: [
          responsesRoutes({ pipeline, store: responses, logger, limits: { maxChain: config.responses.max_chain, maxBytes: config.server.body_limit } }),
          signalsRoutes(signals),
          ...(mesh ? [(await import('../mesh/index.js')).meshRoutes(mesh)] : []),
        ],
        openPlugins: [metricsRoute(metrics), ...(config.server.portal ? [portalRoutes()] : [])],
      });
      opened.push(() => app.close());
      let url: string;
      if (options.internalSocket) {
        await app.listen({ path: options.internalSocket });
        url = `unix:${options.internalSocket}`;
      } else {
        const address = await app.listen({ host: config.server.host, port: config.server.port });
        const { port } = new URL(address);
        url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
      }
      return new Gateway({
        config, logger, registry, reloader, catalog, router, breakers, priceBook, metrics, store, access, state, circuits, records, responses, analytics, cache, signals, recorder, outcomes,
        meshServices, federation, pipeline, idle, app, url, startedAt,
      });
    } catch (err) {
      for (const close of opened.reverse()) await close().catch((closeErr: Error) => logger.warn({ err: closeErr.message }, 'start-up: clean-up failed'));
      throw err;
    }
  }

  /** The providers serving now (the config file's, then the run-time ones), in failover order. */
  get providers(): Provider[] {
    return this.catalog.providers();
  }

  /**
   * Reads the config file again and applies what can change while running (`SIGHUP`, `POST /v1/admin/reload`);
   * rejects with `config_reload_failed` (the running config unchanged) when the file does not load.
   */
  reload(): Promise<ReloadResult> {
    return this.reloader.reload();
  }

  /** The pipeline's view of the mesh (forwarding to peers), when the mesh runs; a primary lends it to its workers. */
  get peerForwarder(): PeerForwarder | undefined {
    return this.meshServices?.forwarder;
  }

  /** Subscribes to every finished request (records, metrics, tests). */
  onComplete(listener: (outcome: Outcome) => void): () => void {
    return this.outcomes.add(listener);
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
    const { drain } = this.app;
    this.logger.info({ inFlight: drain.inFlight, graceMs }, 'shutdown: stopped accepting requests, draining in-flight ones');
    const grace = setTimeout(() => {
      this.logger.warn({ inFlight: drain.inFlight, graceMs }, 'shutdown: grace period over, aborting what is still in flight');
      this.app.server.closeAllConnections();
    }, graceMs);
    await this.app.close();
    clearTimeout(grace);
    this.logger.info({ ms: elapsed() }, 'shutdown: HTTP server closed');
    if (forwards && !(await settlesWithin(forwards, graceMs - elapsed()))) {
      this.logger.warn({ inFlight: this.mesh?.inFlight, graceMs }, 'shutdown: grace period over, aborting forwarded requests still in flight');
    }
    await this.meshServices?.stop();
    await this.registry.close();
    await Promise.all(this.providers.map((p) => p.close()));
    const pendingRecords = this.recorder.backlog;
    await this.recorder.drain();
    await this.analytics.close();
    await this.records.close();
    await this.responses.close();
    this.signals.close();
    this.idle.close();
    this.metrics.eventLoopLag?.pause();
    await this.cache?.close();
    await this.access.close();
    await this.circuits?.close();
    await this.state?.close();
    await this.store.close();
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

/**
 * A provider's circuit breaker, reporting its state changes to the log and to metrics; shared by every replica when
 * the state backend is (`circuits`), else this node's own.
 */
export function circuitBreaker(config: Config, providerId: string, logger: Logger, metrics: GatewayMetrics, circuits?: SharedCircuits): CircuitBreaker {
  const { circuit_breaker: cb } = config.routing;
  const settings = { failureThreshold: cb.failure_threshold, cooldownMs: cb.cooldown_ms, maxCooldownMs: cb.max_cooldown_ms };
  const onChange = (state: CircuitState) => {
    logger.warn({ provider: providerId, state }, 'circuit breaker state changed');
    metrics.setCircuitState(providerId, state);
  };
  return circuits ? circuits.breaker(providerId, settings, onChange) : new CircuitBreaker(settings, onChange);
}
