import type { Logger } from 'pino';
import type { CoreConfig } from '../core-config/index.js';
import type { PrincipalRef, Secret } from '../core/index.js';
import { GatewayError, UpstreamError, toGatewayError } from '../errors/index.js';
import type { CanonicalRequest } from '../formats/canonical.js';
import { codecs } from '../formats/index.js';
import type { CircuitBreaker } from '../router/circuit-breaker.js';
import { answerableElsewhere, runFailover, type AttemptRecord, type FailoverTarget } from '../router/failover.js';
import type { ModelCatalog, Route } from '../router/model-catalog.js';
import { Router } from '../router/router.js';
import { fallbackClassOf, hasPriceRules, noEligibleTarget, priceAllows, type PlannedTarget, type PricingRules, type RoutePlan, type Target } from '../routing/index.js';
import { needsOf, takeRoutingOptions } from './routing-options.js';
import { attemptChat, attemptCountTokens, attemptEmbeddings, type AttemptContext, type Prepared } from './provider-attempt.js';
import { attemptPeer, type PeerForwarder } from './peer-attempt.js';
import { modelNotFound } from './model-not-found.js';
import { newMeter, onStreamEnd, type Meter } from './streaming.js';
import { estimateInputTokens, estimateTextTokens, requestEstimate } from './token-estimate.js';
import type { GatewayRequest, GatewayResponse, Outcome } from './types.js';

/** One attempt on a provider route (chat, embeddings or token counting). */
type Attempt = typeof attemptChat;

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
  /** Groups, aliases, profiles and measured signals; absent → plain model names in config order only. */
  router?: Router;
  breakers: Map<string, CircuitBreaker>;
  /** The credential's routing defaults (profile) and pricing rules. */
  routingRules?: (principal: PrincipalRef) => PricingRules & { profile?: string };
  logger: Logger;
  sanitize?: (req: GatewayRequest) => SanitizeVerdict;
  /** Checks model permissions and reserves quota; rejects with 403/429. An admission with nothing to wait for comes back as it is. */
  admit?: (req: GatewayRequest, estimate: { inputTokens: number; maxOutputTokens: number }) => Admission | Promise<Admission>;
  /** A provider key chosen by the principal's virtual key. */
  providerKey?: (principal: PrincipalRef, providerId: string) => Secret | undefined;
  /** Mesh peers to forward to when no local provider can answer (absent: served locally only). */
  peers?: PeerForwarder;
  /** Exact-match response cache, consulted after admission (limits count a hit's request, not its tokens). */
  cache?: ResponseCachePort;
  onComplete?: (outcome: Outcome) => void;
  onFailover?: (from: string, to: string) => void;
  /** Told of every request `handle` takes (the node's idle watch). */
  activity?: { served(): void };
}

interface ProviderTarget extends FailoverTarget {
  route: Route;
  planned: Target;
}

type Estimate = { inputTokens: number; maxOutputTokens: number };

/** A request's validation and token estimate, made once by `Pipeline.assess` for the body it was given. */
export interface Assessment {
  body: Record<string, unknown>;
  /** Absent when the body did not validate: `handle` then validates again and answers with that error. */
  validated?: { canonical?: CanonicalRequest; untranslatable?: GatewayError };
  estimate: Estimate;
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
  /** Each request in flight, with whoever waits for it to finish (streams at their end; none mostly): see `settled()`. */
  private readonly running = new Map<number, Array<() => void> | undefined>();
  private requestSeq = 0;
  private readonly providerInFlight = new Map<string, number>();

  private readonly router: Router;

  constructor(private readonly deps: PipelineDeps) {
    this.router = deps.router ?? new Router({ catalog: deps.catalog, breakers: deps.breakers, inFlight: (id) => this.providerLoad(id) });
  }

  /** Requests in flight to one provider (the `least_busy` strategy and the load signal read it). */
  providerLoad(providerId: string): number {
    return this.providerInFlight.get(providerId) ?? 0;
  }

  /**
   * Resolves once every request in flight now has finished (streams included); later requests are not waited for.
   * A provider replaced at run time is closed only after this, so the requests it was serving finish on it.
   */
  settled(): Promise<void> {
    const finished: Promise<void>[] = [];
    for (const [seq, waiters] of this.running) {
      finished.push(new Promise<void>((resolve) => (waiters ? waiters.push(resolve) : this.running.set(seq, [resolve]))));
    }
    return Promise.all(finished).then(() => undefined);
  }

  /** Requests being served right now (advertised as mesh capacity). */
  get load(): number {
    return this.inFlight;
  }

  /**
   * `hooks.onFinish` sees the outcome once it is final (usage included), also when `handle` throws: the mesh's
   * forward handler charges a peer that left while its request was being served.
   */
  /**
   * The validation and estimate `handle` makes of `req`'s body, for a caller that needs the estimate first (the
   * forward handler's credit check); given back to `handle` as `hooks.assessed`, they are not made twice. Never throws.
   */
  assess(req: GatewayRequest): Assessment {
    try {
      const validated = this.validate(req);
      return { body: req.body, validated, estimate: requestEstimate(validated.canonical, req.body, req.operation) };
    } catch {
      return { body: req.body, estimate: requestEstimate(undefined, req.body, req.operation) };
    }
  }

  async handle(req: GatewayRequest, hooks: { onFinish?: (outcome: Outcome) => void; assessed?: Assessment } = {}): Promise<GatewayResponse> {
    // Every field present from the start (in Outcome's order), the optional ones undefined: set as the request goes,
    // each would be a new property (a map transition, a grown property store), and the outcomes of requests that took
    // different paths would reach the recorder, metrics and log line in different shapes.
    const outcome: Outcome = {
      requestId: req.id, receivedAt: req.receivedAt, format: req.format, operation: req.operation, requestedModel: req.model,
      model: undefined, provider: undefined, peer: undefined,
      principal: req.principal, ip: req.ip, project: req.project, source: req.source, stream: req.stream,
      attempts: [], status: 0, errorType: undefined, errorMessage: undefined, usage: undefined, usageEstimated: undefined,
      ttftMs: undefined, latencyMs: undefined, findings: [], warnings: [], clientAborted: undefined, upstreamCalled: undefined,
      cache: undefined, profile: undefined,
    };
    this.inFlight += 1;
    this.deps.activity?.served();
    const seq = (this.requestSeq += 1);
    this.running.set(seq, undefined);
    let admission: Admission | undefined;
    let estimate: Estimate | undefined;
    let finished = false;
    const finish = (error?: unknown) => {
      if (finished) return;
      finished = true;
      this.inFlight -= 1;
      const waiters = this.running.get(seq);
      this.running.delete(seq);
      if (waiters) for (const wake of waiters) wake();
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
      // Once the microtasks queued by now have run — among them the ones that write the answer (a complete body, or
      // a stream's end) to the client: the settlement, record, metrics and log line are off the client's critical
      // path, yet still run in this turn of the loop (before the client's next request can be read).
      process.nextTick(this.settleLater, outcome, admission);
    };

    try {
      req = takeRoutingOptions(req);
      const sanitized = this.deps.sanitize?.(req);
      if (sanitized) {
        // A clean body (the common case) comes back as the very same object: nothing to copy then.
        if (sanitized.findings.length) outcome.findings = sanitized.findings.map(({ type, location, action }) => ({ type, location, action }));
        if (sanitized.refusal) throw sanitized.refusal;
        if (sanitized.body !== req.body) req = { ...req, body: sanitized.body };
      }
      // An assessment of this very body (no step above changed it) stands; a changed body is validated afresh.
      const assessed = hooks.assessed?.body === req.body && hooks.assessed.validated ? hooks.assessed : undefined;
      const validated = assessed?.validated ?? this.validate(req);
      const canonical = validated.canonical;
      estimate = assessed?.estimate ?? requestEstimate(canonical, req.body, req.operation);
      const admitted = this.deps.admit?.(req, estimate);
      admission = admitted instanceof Promise ? await admitted : admitted;
      const { prepared, target, attempts, meter, estimated, plan } = await this.routeOrReplay(req, validated, outcome, estimate);
      outcome.warnings = prepared.warnings;
      outcome.status = 200;
      // Built by assignment, in this order (the order the client sees them), not by spreading optional parts.
      const headers: Record<string, string> = {
        'content-type': prepared.contentType,
        'x-request-id': req.id,
        'x-meshgate-provider': target,
        'x-meshgate-attempts': String(attempts.length),
      };
      if (admission) Object.assign(headers, admission.headers);
      if (prepared.warnings.length) headers['x-meshgate-warnings'] = warningsHeader(prepared.warnings);
      if (sanitized?.header) headers['x-meshgate-sanitized'] = sanitized.header;
      if (estimated) headers['x-meshgate-estimated'] = 'true';
      // Which node served: the peer it was forwarded to, or this node itself when it is a mesh node (federation: a
      // client of another gateway's token sees who answered).
      const servedBy = outcome.peer ?? this.deps.peers?.selfId;
      if (servedBy) headers['x-meshgate-served-by'] = servedBy;
      if (plan?.profile) headers['x-meshgate-profile'] = plan.profile;
      if (plan && plan.strategy !== 'ordered') headers['x-meshgate-strategy'] = plan.strategy;
      if (outcome.cache) headers['x-meshgate-cache'] = outcome.cache;
      if (prepared.body.kind !== 'sse') {
        this.applyMeter(outcome, meter, canonical);
        finish();
        return { status: 200, headers, body: prepared.body, requestBody: req.body, outcome };
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
      return { status: 200, headers: { ...headers, 'cache-control': 'no-cache' }, body: { kind: 'sse', events }, requestBody: req.body, outcome };
    } catch (err) {
      finish(err);
      throw err;
    }
  }

  private readonly settleLater = (outcome: Outcome, admission: Admission | undefined): void => void this.settle(outcome, admission);

  /**
   * After a request finished and its answer was written (`process.nextTick` from `handle`'s finish): its quota settled —
   * anything the upstream produced is charged, also when a stream broke mid-way; nothing produced is released — and
   * `onComplete` beside it. One async frame instead of a chain of promises and closures per request; a failure of either is
   * logged, never thrown. A crash between the answer and this tick loses the request's settlement and record, as a
   * crash before the records' group commit already does.
   */
  private async settle(outcome: Outcome, admission: Admission | undefined): Promise<void> {
    // The settlement and `onComplete` run side by side: the counters change at once, while the settlement's write may
    // wait for the next reservation's (QuotaStore) — the record need not wait for it.
    let settling: Promise<void> | void = undefined;
    try {
      settling = outcome.usage ? admission?.settle(outcome) : admission?.release();
    } catch (err) {
      this.settlementFailed(err, outcome);
    }
    const settled = settling === undefined ? undefined : Promise.resolve(settling).then(undefined, (err: unknown) => this.settlementFailed(err, outcome));
    try {
      await this.deps.onComplete?.(outcome);
    } catch (err) {
      this.deps.logger.error({ err, requestId: outcome.requestId }, 'completion handling failed');
    }
    if (settled) await settled;
  }

  private settlementFailed(err: unknown, outcome: Outcome): void {
    this.deps.logger.error({ err, requestId: outcome.requestId }, 'quota settlement failed');
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
   * The routing engine's plan for a request (no provider is called): `POST /v1/routing/explain` shows it, `route`
   * follows it.
   */
  plan(req: GatewayRequest, canonical: CanonicalRequest | undefined, estimate: Estimate): RoutePlan {
    const rules = this.deps.routingRules?.(req.principal) ?? {};
    const peers = this.deps.peers;
    const peersAllowed = peers !== undefined && peers.canForward(req);
    return this.router.plan({
      model: req.model, needs: needsOf(req, canonical, estimate), rules, profile: req.profile ?? rules.profile,
      peersAllowed, ...(peersAllowed && peers.prices ? { peerPrices: (model: string) => peers.prices!(model) } : {}),
    });
  }

  /** Explains a request: validated and planned as it would be, without calling any provider or peer. */
  explain(req: GatewayRequest): { plan: RoutePlan; estimate: Estimate } {
    req = takeRoutingOptions(req);
    const { canonical } = this.validate(req);
    const estimate = requestEstimate(canonical, req.body, req.operation);
    return { plan: this.plan(req, canonical, estimate), estimate };
  }

  /**
   * The response cache's one step, after admission so every limit is checked first: a hit is replayed at no cost
   * (zero usage, so token and cost quotas are untouched while the request still counts); a miss is routed as usual
   * and stored once complete. Without the cache in play this is `route` and nothing more.
   */
  private async routeOrReplay(req: GatewayRequest, validated: { canonical?: CanonicalRequest; untranslatable?: GatewayError }, outcome: Outcome, estimate: Estimate) {
    const cache = this.deps.cache;
    const plan = cache?.plan(req);
    if (!cache || !plan) return this.route(req, validated, outcome, estimate);
    const hit = await cache.lookup(plan, req);
    if (hit) {
      outcome.cache = 'hit';
      outcome.model = hit.model;
      const meter = newMeter(performance.now());
      meter.usage = { inputTokens: 0, outputTokens: 0 };
      meter.ttftMs = 0;
      return { prepared: hit.prepared, target: 'cache', attempts: outcome.attempts, meter, estimated: false, plan: undefined };
    }
    const routed = await this.route(req, validated, outcome, estimate);
    outcome.cache = 'miss';
    return { ...routed, prepared: cache.fill(plan, req, routed.prepared, routed.meter, outcome.model ?? req.model) };
  }

  private async route(req: GatewayRequest, validated: { canonical?: CanonicalRequest; untranslatable?: GatewayError }, outcome: Outcome, estimate: Estimate) {
    const { canonical, untranslatable } = validated;
    const { routing, server } = this.deps.config;
    const plan = this.plan(req, canonical, estimate);
    if (plan.profile) outcome.profile = plan.profile;
    if (plan.plan.length === 0 && (plan.candidates.length > 0 || plan.dropped.length > 0)) throw noEligibleTarget(plan);
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
    const targets = this.providerTargets(plan.plan);
    const meshFirst = plan.plan[0]?.target.peer === true;
    const tried = new Set<string>();
    let last: ProviderTarget | undefined;
    const peers = this.deps.peers;
    const meshTarget = plan.plan.find((p) => p.target.peer)?.target;
    const viaMesh = async () => {
      meter = newMeter(performance.now());
      outcome.upstreamCalled = true;
      const result = await attemptPeer(peers!, forPeers(req, meshTarget!.model), meter, routing, attempts, localError, this.peerPriceFilter(req, plan, meshTarget!.model), canonical)
        .catch((err: unknown) => {
          throw targets.length === 0 ? noPeerEither(plan, meshTarget!, err) : err;
        });
      outcome.peer = result.peerId;
      outcome.provider = result.provider ? `${result.peerId}/${result.provider}` : undefined;
      outcome.model = result.model;
      return { prepared: result.prepared, target: `peer:${result.peerId}`, attempts, meter, estimated: false, plan };
    };
    const meshAllowed = peers !== undefined && meshTarget !== undefined && peers.canForward(req);
    // A plan that ranks the mesh first (`cheapest`, with a peer's advert below every local price) asks it first;
    // local targets are then the failover.
    if (meshAllowed && meshFirst) {
      try {
        return await viaMesh();
      } catch (err) {
        localError = toGatewayError(err);
        // No reachable peer serves the model: this node's own targets still do (ranked after the mesh because their
        // circuits are open, or dearer under `cheapest`), and their answer — a 503 with Retry-After for an open
        // circuit, or the panic attempt — is the request's, not a 404 saying the model is served nowhere.
        const noPeer = localError.code === 'model_not_found';
        if (req.signal.aborted || targets.length === 0 || !(noPeer || answerableElsewhere(localError))) throw localError;
        if (noPeer) localError = undefined;
      }
    }
    const runPlan = (list: ProviderTarget[]) => runFailover(list, async (target) => {
      meter = newMeter(performance.now());
      outcome.upstreamCalled = true;
      tried.add(target.planned.key);
      last = target;
      return this.inSlotMeasured(target, meter, attempt, req, canonicalOnce);
    }, { maxAttempts: routing.max_attempts, maxRetryWaitMs: routing.max_retry_wait_ms, backoffMs: routing.backoff_ms, signal: req.signal, onFailover: this.deps.onFailover, attempts,
      panic: routing.circuit_breaker.panic,
      annotate: () => (meter.keys?.length ? { keys: meter.keys.map((use) => ({ ...use })) } : undefined),
      onPanic: (provider) => this.deps.logger.warn({ requestId: req.id, model: req.model, provider }, 'every provider of the model has an open circuit: trying the one whose cool-down ends soonest (panic mode)'),
    });
    if (targets.length > 0 && !overCapacity) {
      try {
        let result;
        try {
          result = await runPlan(targets);
        } catch (err) {
          // A refusal another target can answer: a larger context, or the configured content-policy fallbacks.
          const fallback = req.signal.aborted || attempts.length >= routing.max_attempts ? [] : this.fallbackTargets(err, last, plan, tried, req, canonical, estimate);
          if (fallback.length === 0) throw err;
          this.deps.logger.info({ requestId: req.id, model: req.model, from: last?.planned.key, to: fallback.map((t) => t.planned.key) }, 'falling back by error class');
          result = await runPlan(fallback);
        }
        outcome.provider = result.target.id;
        outcome.model = result.target.route.upstreamModel;
        const prepared = result.value as Prepared & { estimated?: boolean };
        return { prepared, target: result.target.id, attempts, meter, estimated: prepared.estimated ?? false, plan };
      } catch (err) {
        if (req.signal.aborted) throw err;
        localError = toGatewayError(err);
        if (!answerableElsewhere(localError)) throw localError;
      }
    } else if (overCapacity) {
      localError = new GatewayError('node_at_capacity', `This node is at capacity (${server.max_concurrent} requests in flight).`, { retryAfter: 1 });
    }

    if (meshAllowed && !meshFirst) return viaMesh();
    if (localError) throw localError;
    throw modelNotFound(req.model, { suggestions: this.deps.catalog.closeMatches(req.model) });
  }

  /**
   * Under price rules (the credential's, or the profile's `max_price`), only peers whose signed advert passes them are
   * forwarded to — the same test the filter made on the mesh target's price. Without any: every peer.
   */
  private peerPriceFilter(req: GatewayRequest, plan: RoutePlan, model: string): ((peerId: string) => boolean) | undefined {
    const rules = this.deps.routingRules?.(req.principal) ?? {};
    const profile = plan.profile ? this.router.profile(plan.profile) : undefined;
    if (!hasPriceRules(rules, profile)) return undefined;
    const prices = new Map((this.deps.peers?.prices?.(model) ?? []).map((p) => [p.peerId, p]));
    return (peerId) => {
      const price = prices.get(peerId);
      return priceAllows({ inputPrice: price?.inputPerMTok, outputPrice: price?.outputPerMTok }, rules, profile);
    };
  }

  private providerTargets(planned: PlannedTarget[]): ProviderTarget[] {
    const targets: ProviderTarget[] = [];
    for (const { target } of planned) {
      if (target.peer) continue;
      const route = this.router.route(target);
      if (route) targets.push({ id: route.provider.id, retries: route.provider.config.max_retries, breaker: this.deps.breakers.get(route.provider.id), route, planned: target });
    }
    return targets;
  }

  /**
   * Fallbacks by error class. A context-window error moves to the plan's untried targets with a larger known context,
   * then to `routing.fallbacks.context_window`'s (larger, or of unknown size); a content-policy refusal moves to
   * `routing.fallbacks.content_policy`'s targets. Any other error: none.
   */
  private fallbackTargets(err: unknown, failed: ProviderTarget | undefined, plan: RoutePlan, tried: Set<string>, req: GatewayRequest, canonical: CanonicalRequest | undefined, estimate: Estimate): ProviderTarget[] {
    const kind = fallbackClassOf(err);
    if (!kind || !failed) return [];
    const { fallbacks } = this.router;
    const planOf = (model: string) => {
      try {
        return this.plan({ ...req, model }, canonical, estimate).plan;
      } catch {
        return []; // a fallback name that cannot be planned (unknown profile at a group) is skipped, not fatal
      }
    };
    let candidates: PlannedTarget[];
    if (kind === 'context_window') {
      const failedWindow = this.router.contextWindowOf(failed.planned);
      const larger = (p: PlannedTarget) => failedWindow === undefined || (p.facts.contextWindow ?? 0) > failedWindow;
      const orUnknown = (p: PlannedTarget) => failedWindow === undefined || p.facts.contextWindow === undefined || p.facts.contextWindow > failedWindow;
      candidates = [...plan.plan.filter(larger), ...fallbacks.context_window.flatMap((m) => planOf(m).filter(orUnknown))];
    } else {
      candidates = fallbacks.content_policy.flatMap(planOf);
    }
    const seen = new Set(tried);
    return this.providerTargets(candidates.filter((p) => !seen.has(p.target.key) && seen.add(p.target.key)));
  }

  private context(req: GatewayRequest, canonical: () => CanonicalRequest, meter: Meter, route: Route): AttemptContext {
    return { req, canonical, meter, signal: req.signal, apiKey: this.deps.providerKey?.(req.principal, route.provider.id) };
  }

  /**
   * One attempt on a provider target, with the pipeline's two pieces of bookkeeping around it (one async frame and,
   * for a stream, one wrapper of its events for both):
   * - the provider's `max_concurrent`, held for the whole life of a response (a stream holds its slot until it ends);
   *   a full provider is a retryable failure, so the router moves on;
   * - the router's measured signals: TTFT at the first event, duration at the end of the answer (a full provider or
   *   this node's own refusal says nothing about the target and is not counted).
   */
  private async inSlotMeasured(target: ProviderTarget, meter: Meter, attempt: Attempt, req: GatewayRequest, canonical: () => CanonicalRequest): Promise<Prepared> {
    const started = performance.now();
    const { route } = target;
    const key = target.planned.key;
    const id = route.provider.id;
    const current = this.providerInFlight.get(id) ?? 0;
    // Neutral for the signals, like every refusal of this node's own.
    if (current >= route.provider.config.max_concurrent) {
      throw new UpstreamError(id, `Provider ${id} is at its max_concurrent limit`, { retryable: true, code: 'provider_at_capacity' });
    }
    this.providerInFlight.set(id, current + 1);
    let prepared: Prepared;
    try {
      prepared = await attempt(route, this.context(req, canonical, meter, route));
    } catch (err) {
      this.release(id);
      const neutral = (err instanceof UpstreamError && err.code === 'provider_at_capacity') || (err instanceof GatewayError && !(err instanceof UpstreamError));
      if (!neutral) this.router.stats.observe(key, { ok: false, durationMs: performance.now() - started });
      throw err;
    }
    const ttftMs = meter.ttftMs;
    if (prepared.body.kind !== 'sse') {
      this.release(id);
      this.router.stats.observe(key, { ok: true, durationMs: performance.now() - started, ttftMs });
    } else {
      prepared.body = { kind: 'sse', events: onStreamEnd(prepared.body.events, (error) => {
        this.release(id);
        this.router.stats.observe(key, { ok: error === undefined, durationMs: performance.now() - started, ttftMs });
      }) };
    }
    return prepared;
  }

  private release(providerId: string): void {
    this.providerInFlight.set(providerId, (this.providerInFlight.get(providerId) ?? 1) - 1);
  }
}

/** The request as sent to mesh peers for a `peer:*` target whose model is not the name the client asked for. */
function forPeers(req: GatewayRequest, model: string): GatewayRequest {
  if (model === req.model) return req;
  return { ...req, model, body: req.format === 'gemini' ? req.body : { ...req.body, model } };
}

/**
 * The `x-meshgate-warnings` value: the dropped parameters' names, each once. A name can be the client's own (a Gemini
 * request names every field it drops) and hold anything JSON allows, while a header value takes visible ASCII only
 * (Node refuses the rest, which would turn an answered request into a 500): other characters are written as `\uXXXX`.
 */
function warningsHeader(warnings: readonly string[]): string {
  return [...new Set(warnings)].join(', ').replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The mesh was the plan's only target left and no reachable peer serves the model. When the filter dropped this
 * node's own targets (a context window too small, a price rule), that is why the request cannot be served — the
 * model exists here — so the answer is the plan's refusal naming each dropped target, not `model_not_found`.
 */
function noPeerEither(plan: RoutePlan, meshTarget: Target, err: unknown): unknown {
  if (plan.dropped.length === 0 || !(err instanceof GatewayError) || err.code !== 'model_not_found') return err;
  const refusal = noEligibleTarget(plan);
  if (refusal.code !== 'no_eligible_target') return refusal;
  return noEligibleTarget({ ...plan, dropped: [...plan.dropped, { target: meshTarget, reasons: [{ code: 'unusable', message: 'no reachable mesh peer serves it' }] }] });
}
