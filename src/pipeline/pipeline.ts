import type { Logger } from 'pino';
import type { CoreConfig } from '../core-config/index.js';
import type { PrincipalRef, Secret } from '../core/index.js';
import { GatewayError, UpstreamError, toGatewayError } from '../errors/index.js';
import type { CanonicalRequest } from '../formats/canonical.js';
import { codecs } from '../formats/index.js';
import type { CircuitBreaker } from '../router/circuit-breaker.js';
import { answerableElsewhere, runFailover, type AttemptRecord, type FailoverTarget } from '../router/failover.js';
import type { ModelCatalog, Route } from '../router/model-catalog.js';
import { attemptChat, attemptCountTokens, attemptEmbeddings, type AttemptContext, type Prepared } from './provider-attempt.js';
import { attemptPeer, type PeerForwarder } from './peer-attempt.js';
import { modelNotFound } from './model-not-found.js';
import { newMeter, onStreamEnd, type Meter } from './streaming.js';
import { estimateInputTokens, estimateTextTokens, requestEstimate } from './token-estimate.js';
import type { GatewayRequest, GatewayResponse, Outcome } from './types.js';

/** A quota reservation held for the duration of a request (see policy/). */
export interface Admission {
  headers: Record<string, string>;
  settle(outcome: Outcome): Promise<void> | void;
  release(): Promise<void> | void;
}

export interface SanitizeVerdict {
  body: Record<string, unknown>;
  findings: Array<{ type: string; location: string; action: 'redacted' | 'blocked' }>;
  /** Set when the compliance gate refuses the request. */
  refusal?: GatewayError;
  /** Value for `x-meshgate-sanitized`. */
  header?: string;
}

/** What the response cache decided for one request (its key is computed only when the cache is in play). */
export interface CachePlan {
  mode: 'use' | 'refresh';
  key: string;
  ttlMs: number;
}

/** The response cache, as the pipeline sees it (cache/ implements it). */
export interface ResponseCachePort {
  /** Undefined when the cache is off, skipped or not applicable: nothing is serialised then. */
  plan(req: GatewayRequest): CachePlan | undefined;
  /** The stored answer in the client's format (streamed if asked), for mode `use`. */
  lookup(plan: CachePlan, req: GatewayRequest): Promise<{ prepared: Prepared; model: string } | undefined>;
  /** The routed response, stored once it completed. */
  fill(plan: CachePlan, req: GatewayRequest, prepared: Prepared, meter: Meter, model: string): Prepared;
}

export interface PipelineDeps {
  config: Pick<CoreConfig, 'routing' | 'server'>;
  catalog: ModelCatalog;
  breakers: Map<string, CircuitBreaker>;
  logger: Logger;
  sanitize?: (req: GatewayRequest) => SanitizeVerdict;
  /** Checks model permissions and reserves quota; throws 403/429. */
  admit?: (req: GatewayRequest, estimate: { inputTokens: number; maxOutputTokens: number }) => Promise<Admission>;
  /** A provider key chosen by the principal's virtual key. */
  providerKey?: (principal: PrincipalRef, providerId: string) => Secret | undefined;
  /** Mesh peers to forward to when no local provider can answer (absent: served locally only). */
  peers?: PeerForwarder;
  /** Exact-match response cache, consulted after admission (limits count a hit's request, not its tokens). */
  cache?: ResponseCachePort;
  onComplete?: (outcome: Outcome) => void;
  onFailover?: (from: string, to: string) => void;
}

interface ProviderTarget extends FailoverTarget {
  route: Route;
}

/** nginx's "client closed request": recorded for a request whose client left before any status was sent. */
const CLIENT_CLOSED_STATUS = 499;

/** The request's signal fired because its client went away, not because a deadline on it passed. */
const clientLeft = (signal: AbortSignal) => signal.aborted && !(signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError');


/**
 * The request pipeline after HTTP parsing and authentication: sanitize → validate → admit (quota) → route with
 * failover over local providers → else mesh peers → respond, then settle and record. Transport-agnostic: HTTP routes
 * and the mesh forward handler both call `handle`.
 */
export class Pipeline {
  private inFlight = 0;
  private readonly providerInFlight = new Map<string, number>();

  constructor(private readonly deps: PipelineDeps) {}

  /** Requests being served right now (advertised as mesh capacity). */
  get load(): number {
    return this.inFlight;
  }

  /**
   * `hooks.onFinish` sees the outcome once it is final (usage included), also when `handle` throws: the mesh's
   * forward handler charges a peer that left while its request was being served.
   */
  async handle(req: GatewayRequest, hooks: { onFinish?: (outcome: Outcome) => void } = {}): Promise<GatewayResponse> {
    const outcome: Outcome = {
      requestId: req.id, receivedAt: req.receivedAt, format: req.format, operation: req.operation, requestedModel: req.model,
      principal: req.principal, ip: req.ip, project: req.project, source: req.source, stream: req.stream,
      attempts: [], status: 0, findings: [], warnings: [],
    };
    this.inFlight += 1;
    let admission: Admission | undefined;
    let estimate: { inputTokens: number; maxOutputTokens: number } | undefined;
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      this.inFlight -= 1;
      if (error !== undefined && clientLeft(req.signal)) {
        // The client (or the peer that forwarded the request) went away: an abort, whatever the cancelled work threw
        // on its way out. The status stays what the client was sent (200 once a stream started), 499 before that.
        outcome.clientAborted = true;
        if (outcome.status === 0) outcome.status = CLIENT_CLOSED_STATUS;
        outcome.errorType = 'client_closed';
        outcome.errorMessage = 'The client closed the connection before the response was complete.';
      } else if (error !== undefined) {
        const gatewayError = toGatewayError(error);
        outcome.status = outcome.status >= 400 ? outcome.status : gatewayError.status;
        outcome.errorType = gatewayError.type;
        outcome.errorMessage = gatewayError.message;
      }
      outcome.latencyMs = Math.max(0, Date.now() - req.receivedAt); // the wall clock may step back
      // A client that leaves (or a deadline that passes) once the request went upstream is charged what the upstream
      // received: leaving is not a way to get the request back, and the input was processed (and billed) all the same.
      if (!outcome.usage && outcome.upstreamCalled && req.signal.aborted && estimate) {
        outcome.usage = { inputTokens: estimate.inputTokens, outputTokens: 0 };
        outcome.usageEstimated = true;
        if (clientLeft(req.signal)) outcome.clientAborted = true;
      }
      hooks.onFinish?.(outcome);
      void Promise.resolve()
        // Anything the upstream produced is charged, also when a stream broke mid-way; nothing produced → released.
        .then(() => (outcome.usage ? admission?.settle(outcome) : admission?.release()))
        .catch((err) => this.deps.logger.error({ err, requestId: req.id }, 'quota settlement failed'))
        .then(() => this.deps.onComplete?.(outcome))
        .catch((err) => this.deps.logger.error({ err, requestId: req.id }, 'completion handling failed'));
    };

    try {
      const sanitized = this.deps.sanitize?.(req);
      if (sanitized) {
        outcome.findings = sanitized.findings.map(({ type, location, action }) => ({ type, location, action }));
        if (sanitized.refusal) throw sanitized.refusal;
        req = { ...req, body: sanitized.body };
      }
      const validated = this.validate(req);
      const canonical = validated.canonical;
      estimate = requestEstimate(canonical, req.body, req.operation);
      admission = await this.deps.admit?.(req, estimate);
      const { prepared, target, attempts, meter, estimated } = await this.routeOrReplay(req, validated, outcome);
      outcome.warnings = prepared.warnings;
      outcome.status = 200;
      const headers: Record<string, string> = {
        'content-type': prepared.contentType,
        'x-request-id': req.id,
        'x-meshgate-provider': target,
        'x-meshgate-attempts': String(attempts.length),
        ...(admission?.headers ?? {}),
        ...(prepared.warnings.length ? { 'x-meshgate-warnings': [...new Set(prepared.warnings)].join(', ') } : {}),
        ...(sanitized?.header ? { 'x-meshgate-sanitized': sanitized.header } : {}),
        ...(estimated ? { 'x-meshgate-estimated': 'true' } : {}),
        ...(outcome.peer ? { 'x-meshgate-served-by': outcome.peer } : {}),
        ...(outcome.cache ? { 'x-meshgate-cache': outcome.cache } : {}),
      };
      if (prepared.body.kind !== 'sse') {
        this.applyMeter(outcome, meter, canonical);
        finish();
        return { status: 200, headers, body: prepared.body, outcome };
      }
      const events = onStreamEnd(prepared.body.events, (error, completed) => {
        this.applyMeter(outcome, meter, canonical);
        if (!completed && (error === undefined || clientLeft(req.signal))) outcome.clientAborted = true;
        if (meter.error && !error) {
          outcome.status = 502;
          outcome.errorType = 'upstream_error';
          outcome.errorMessage = meter.error;
        }
        finish(error);
      });
      return { status: 200, headers: { ...headers, 'cache-control': 'no-cache' }, body: { kind: 'sse', events }, outcome };
    } catch (err) {
      finish(err);
      throw err;
    }
  }

  /**
   * Validates the client body in its own format (400 on bad input) and returns the canonical form of chat requests.
   * Input that is valid but has no equivalent in other formats (a Gemini search tool, an audio part) is not refused
   * here: the refusal is kept and raised only if a provider that needs a translation is tried.
   */
  private validate(req: GatewayRequest): { canonical?: CanonicalRequest; untranslatable?: GatewayError } {
    const codec = codecs[req.format];
    try {
      if (req.operation === 'embeddings') {
        if (!codec.embeddings) throw new GatewayError('route_not_found', 'This API format has no embeddings endpoint.');
        codec.embeddings.requestToCanonical(req.body, { model: req.model });
        return {};
      }
      // count_tokens takes a Messages body without max_tokens (https://docs.anthropic.com/en/api/messages-count-tokens).
      const body = req.operation === 'count_tokens' && req.format === 'anthropic' ? { max_tokens: 1, ...req.body } : req.body;
      return { canonical: codec.requestToCanonical(body, { model: req.model, stream: req.stream }) };
    } catch (err) {
      if (err instanceof GatewayError && err.code === 'not_translatable') return { untranslatable: err };
      throw err;
    }
  }

  private applyMeter(outcome: Outcome, meter: Meter, canonical: CanonicalRequest | undefined): void {
    outcome.ttftMs = meter.ttftMs === undefined ? undefined : Math.round(meter.ttftMs);
    const usage = meter.usage;
    if (usage && usage.inputTokens !== undefined && usage.outputTokens !== undefined) {
      outcome.usage = { ...usage, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens };
    } else if (canonical) {
      // The upstream reported no (complete) usage: estimate so limits and costs never silently count zero.
      outcome.usage = {
        inputTokens: usage?.inputTokens ?? estimateInputTokens(canonical),
        outputTokens: usage?.outputTokens ?? estimateTextTokens(meter.outputChars),
      };
      outcome.usageEstimated = true;
    }
  }

  /**
   * The response cache's one step, after admission so every limit is checked first: a hit is replayed at no cost
   * (zero usage, so token and cost quotas are untouched while the request still counts); a miss is routed as usual
   * and stored once complete. Without the cache in play this is `route` and nothing more.
   */
  private async routeOrReplay(req: GatewayRequest, validated: { canonical?: CanonicalRequest; untranslatable?: GatewayError }, outcome: Outcome) {
    const cache = this.deps.cache;
    const plan = cache?.plan(req);
    if (!cache || !plan) return this.route(req, validated, outcome);
    const hit = await cache.lookup(plan, req);
    if (hit) {
      outcome.cache = 'hit';
      outcome.model = hit.model;
      const meter = newMeter(performance.now());
      meter.usage = { inputTokens: 0, outputTokens: 0 };
      meter.ttftMs = 0;
      return { prepared: hit.prepared, target: 'cache', attempts: outcome.attempts, meter, estimated: false };
    }
    const routed = await this.route(req, validated, outcome);
    outcome.cache = 'miss';
    return { ...routed, prepared: cache.fill(plan, req, routed.prepared, routed.meter, outcome.model ?? req.model) };
  }

  private async route(req: GatewayRequest, validated: { canonical?: CanonicalRequest; untranslatable?: GatewayError }, outcome: Outcome) {
    const { canonical, untranslatable } = validated;
    const { routing, server } = this.deps.config;
    const routes = this.deps.catalog.resolve(req.model).filter((r) => r.provider.supports(req.operation) || req.operation === 'count_tokens');
    const canonicalOnce = () => {
      if (untranslatable) throw untranslatable;
      if (!canonical) throw new GatewayError('internal_error', 'internal: no canonical request');
      return canonical;
    };
    const attempt = req.operation === 'chat' ? attemptChat : req.operation === 'embeddings' ? attemptEmbeddings : attemptCountTokens;

    let meter = newMeter(performance.now());
    let localError: GatewayError | undefined;
    const attempts: AttemptRecord[] = outcome.attempts;
    const overCapacity = this.inFlight > server.max_concurrent;
    if (routes.length > 0 && !overCapacity) {
      const targets: ProviderTarget[] = routes.map((route) => ({ id: route.provider.id, retries: route.provider.config.max_retries, breaker: this.deps.breakers.get(route.provider.id), route }));
      try {
        const result = await runFailover(targets, async (target) => {
          meter = newMeter(performance.now());
          outcome.upstreamCalled = true;
          return this.withProviderSlot(target.route, () => attempt(target.route, this.context(req, canonicalOnce, meter, target.route)));
        }, { maxAttempts: routing.max_attempts, maxRetryWaitMs: routing.max_retry_wait_ms, backoffMs: routing.backoff_ms, signal: req.signal, onFailover: this.deps.onFailover, attempts,
          panic: routing.circuit_breaker.panic,
          onPanic: (provider) => this.deps.logger.warn({ requestId: req.id, model: req.model, provider }, 'every provider of the model has an open circuit: trying the one whose cool-down ends soonest (panic mode)'),
        });
        outcome.provider = result.target.id;
        outcome.model = result.target.route.upstreamModel;
        const prepared = result.value as Prepared & { estimated?: boolean };
        return { prepared, target: result.target.id, attempts, meter, estimated: prepared.estimated ?? false };
      } catch (err) {
        if (req.signal.aborted) throw err;
        localError = toGatewayError(err);
        if (!answerableElsewhere(localError)) throw localError;
      }
    } else if (overCapacity) {
      localError = new GatewayError('node_at_capacity', `This node is at capacity (${server.max_concurrent} requests in flight).`, { retryAfter: 1 });
    }

    const peers = this.deps.peers;
    if (peers && peers.canForward(req)) {
      meter = newMeter(performance.now());
      outcome.upstreamCalled = true;
      const result = await attemptPeer(peers, req, meter, routing, attempts, localError);
      outcome.peer = result.peerId;
      outcome.provider = result.provider ? `${result.peerId}/${result.provider}` : undefined;
      outcome.model = result.model;
      return { prepared: result.prepared, target: `peer:${result.peerId}`, attempts, meter, estimated: false };
    }
    if (localError) throw localError;
    throw modelNotFound(req.model, { suggestions: this.deps.catalog.closeMatches(req.model) });
  }

  private context(req: GatewayRequest, canonical: () => CanonicalRequest, meter: Meter, route: Route): AttemptContext {
    return { req, canonical, meter, signal: req.signal, apiKey: this.deps.providerKey?.(req.principal, route.provider.id) };
  }

  /**
   * Enforces a provider's `max_concurrent` for the whole life of a response (a stream holds its slot until it ends);
   * a full provider is a retryable failure, so the router moves on.
   */
  private async withProviderSlot(route: Route, run: () => Promise<Prepared>): Promise<Prepared> {
    const id = route.provider.id;
    const current = this.providerInFlight.get(id) ?? 0;
    if (current >= route.provider.config.max_concurrent) {
      throw new UpstreamError(id, `Provider ${id} is at its max_concurrent limit`, { retryable: true, code: 'provider_at_capacity' });
    }
    this.providerInFlight.set(id, current + 1);
    const release = () => this.providerInFlight.set(id, (this.providerInFlight.get(id) ?? 1) - 1);
    try {
      const prepared = await run();
      if (prepared.body.kind !== 'sse') release();
      else prepared.body = { kind: 'sse', events: onStreamEnd(prepared.body.events, release) };
      return prepared;
    } catch (err) {
      release();
      throw err;
    }
  }
}
