import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAccessControl, type AccessControl } from '../auth/index.js';
import type { Config } from '../config/index.js';
import { circuitBreaker } from '../gateway/gateway.js';
import { logReclaimed } from '../gateway/idle-memory.js';
import { watchIdle, type IdleWatch } from '../gateway/idle-watch.js';
import { buildApp } from '../http/app.js';
import { queryKeyOf } from '../http/query-key.js';
import { createMetrics, type GatewayMetrics } from '../metrics/index.js';
import { pricedAdmission } from '../pipeline/admission.js';
import { logOutcome, OutcomeListeners } from '../pipeline/outcomes.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { sanitizeStep } from '../pipeline/sanitize-step.js';
import { PriceBook } from '../pricing/index.js';
import { createProvider, type Provider } from '../providers/index.js';
import { OutcomeRecorder } from '../records/index.js';
import { ModelCatalog } from '../router/model-catalog.js';
import { Router } from '../router/router.js';
import { createSanitizer } from '../sanitize/index.js';
import type { IpcChannel } from './ipc-channel.js';
import { peerForwarderViaPrimary } from './peer-bridge.js';
import { PrimaryRecordSink } from './record-sink.js';
import { primaryForwarder } from './request-forwarder.js';
import { cacheViaPrimary, circuitsViaPrimary, federationViaPrimary, PrimaryState, qualityReplica, tokenReplica, type WorkerHello } from './worker-state.js';
import { SharedCircuits } from '../router/shared-circuit-breaker.js';
import { ResponseCache } from '../cache/index.js';

/**
 * One worker process of a node with `server.workers` > 1: the request pipeline — providers, routing, translation,
 * streaming, sanitization, admission — on the shared public port, with no state of its own. Quota reservations,
 * revocation checks, the token directory and usage records go to the primary over IPC; mesh forwards go out through
 * the primary's libp2p node; every request that is not a pipeline route is handed whole to the primary's socket.
 */
export class WorkerNode {
  private closing?: Promise<void>;

  private constructor(
    readonly url: string,
    private readonly parts: {
      config: Config; logger: Logger; app: FastifyInstance; providers: Provider[]; catalog: ModelCatalog; recorder: OutcomeRecorder;
      sink: PrimaryRecordSink; cache?: ResponseCache; access: AccessControl; state: PrimaryState; forwarder: { close(): void }; metrics: GatewayMetrics; idle: IdleWatch;
      circuits?: SharedCircuits;
    },
  ) {}

  static async start(config: Config, options: { channel: IpcChannel; primarySocket: string; logger: Logger; workers: number }): Promise<WorkerNode> {
    const { channel, logger } = options;
    const startedAt = Date.now();
    const hello = await channel.call<WorkerHello>('hello');
    const providers = config.providers.map((provider) => createProvider(provider));
    const priceBook = new PriceBook(config.pricing);
    const catalog = new ModelCatalog(providers, logger);
    const metrics = createMetrics({ isKnownModel: (model) => router.knows(model) || catalog.resolve(model).length > 0 });
    channel.handle('metrics', () => metrics.snapshot());
    const circuits = hello.sharedCircuits ? new SharedCircuits({ store: circuitsViaPrimary(channel), refreshMs: config.state.circuit_refresh_ms, logger }) : undefined;
    const breakers = new Map(providers.map((p) => [p.id, circuitBreaker(config, p.id, logger, metrics, circuits)]));
    const providerType = (id: string | undefined) => providers.find((p) => p.id === id)?.type;
    const state = new PrimaryState(channel, hello.stateKind);
    const access = await createAccessControl({
      state,
      tokens: tokenReplica(channel, hello.tokens),
      auth: config.auth,
      keyMap: config.key_map,
      dataDir: config.storage.dir,
      trustProxy: config.server.trust_proxy,
      peerLimits: config.mesh.peer_limits,
      ...(hello.federation ? { federation: federationViaPrimary(channel) } : {}),
    });
    const outcomes = new OutcomeListeners(logger);
    outcomes.add((outcome) => logOutcome(logger, outcome));
    const sanitizer = createSanitizer(config.sanitization);
    const router = new Router({
      catalog, breakers, models: config.models, profiles: config.routing.profiles, fallbacks: config.routing.fallbacks,
      priceOf: (model, provider) => priceBook.priceFor(model, provider.type),
      inFlight: (providerId) => pipeline.providerLoad(providerId),
      quality: qualityReplica(channel, config.signals, hello.quality).forRouting(),
    });
    await catalog.start(config.routing.discovery_interval_seconds * 1000);
    const admit = pricedAdmission({ quotas: access.quotas, priceBook, providerType, onQuotaRefused: (code) => metrics.quotaRejected(code) });
    // `max_concurrent` is the node's: each worker takes its share, so together they never serve more at once.
    const maxConcurrent = Math.floor(config.server.max_concurrent / options.workers);
    const cache = config.cache.enabled ? new ResponseCache(config.cache, cacheViaPrimary(channel), logger) : undefined;
    const idle = watchIdle({ inFlight: () => pipeline.load, lag: metrics.eventLoopLag, reclaim: logReclaimed(logger), heapReclaimAfterMs: config.server.idle_heap_reclaim_seconds * 1000 });
    const pipeline = new Pipeline({
      activity: idle,
      config: { routing: config.routing, server: { ...config.server, max_concurrent: maxConcurrent } },
      cache,
      catalog, router, breakers, logger,
      routingRules: (principal) => access.rules.routing(principal),
      sanitize: sanitizeStep(sanitizer),
      admit: (req, estimate) => {
        // One-way, ahead of the answer: a signal about this request waits at the primary for its record.
        channel.emit('records.expect', req.id);
        return admit(req, estimate);
      },
      providerKey: (principal, providerId) => access.virtualKeys.providerKey(principal, providerId),
      peers: hello.peerId === undefined ? undefined : peerForwarderViaPrimary(channel, { selfId: hello.peerId, forward: config.mesh.forward, maxHops: config.mesh.max_hops }),
      onComplete: (outcome) => outcomes.emit(outcome),
      onFailover: (from, to) => {
        logger.info({ from, to }, 'failing over');
        metrics.failover(from, to);
      },
    });
    const sink = new PrimaryRecordSink(channel, logger);
    const recorder = new OutcomeRecorder(sink, {
      priceBook, providerType, logger, countryOf: (ip) => access.authenticator.country(ip),
      onRecord: (record) => metrics.observeRecord(record),
    });
    outcomes.add((outcome) => recorder.record(outcome));
    const forwarder = primaryForwarder(options.primarySocket);
    const app = await buildApp({
      config, logger, pipeline,
      info: { catalog, breakers, startedAt, prices: priceBook },
      authenticate: async (request) => {
        const ip = access.authenticator.clientIp({ headers: request.headers, socketAddress: request.socket.remoteAddress });
        request.clientIp = ip;
        return access.authenticator.authenticate({ headers: request.headers, ip, queryKeys: queryKeyOf(request.raw, request.url) });
      },
      corsHeaders: async (request) => {
        const origin = request.headers.origin;
        const requested = request.headers['access-control-request-headers'];
        return access.cors.headersFor(typeof origin === 'string' ? origin : undefined, request.principal, typeof requested === 'string' ? requested : undefined);
      },
      elsewhere: forwarder.forward,
    });
    const address = await app.listen({ host: config.server.host, port: config.server.port });
    const { port } = new URL(address);
    const url = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
    return new WorkerNode(url, { config, logger, app, providers, catalog, recorder, sink, cache, access, state, forwarder, metrics, idle, circuits });
  }

  /** Stops accepting, finishes what is in flight (up to the grace period), then hands the last records and settlements to the primary. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { app, logger, config } = this.parts;
    const graceMs = config.server.shutdown_grace_seconds * 1000;
    this.parts.catalog.stop();
    logger.info({ inFlight: app.drain.inFlight, graceMs }, 'shutdown: stopped accepting requests, draining in-flight ones');
    const grace = setTimeout(() => {
      logger.warn({ inFlight: app.drain.inFlight, graceMs }, 'shutdown: grace period over, aborting what is still in flight');
      app.server.closeAllConnections();
    }, graceMs);
    await app.close();
    clearTimeout(grace);
    this.parts.forwarder.close();
    await Promise.all(this.parts.providers.map((p) => p.close()));
    await this.parts.cache?.close();
    await this.parts.circuits?.close();
    this.parts.idle.close();
    this.parts.metrics.eventLoopLag?.pause();
    await this.parts.recorder.drain();
    await this.parts.sink.flush();
    await this.parts.access.close();
    await this.parts.state.close();
    logger.info('shutdown: worker done (records and settlements handed to the primary)');
  }
}
