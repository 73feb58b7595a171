import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** One registry's metrics as data (what a worker process sends its primary to aggregate). */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];
import { microsToUsd } from '../core/index.js';
import type { UsageRecord } from '../records/index.js';
import type { CircuitState } from '../router/circuit-breaker.js';
import { BoundCounter, BoundHistogram, type CounterSeries, type HistogramSeries } from './bound-series.js';
import { EventLoopLag } from './event-loop-lag.js';
import { LabelLimit } from './label-limit.js';

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

/** The peer id of an attempt target `peer:<id>`; undefined for a provider id. */
const peerOf = (target: string) => (target.startsWith('peer:') ? target.slice(5) : undefined);

/** The model label for names no provider or peer serves. */
export const UNKNOWN_MODEL = '(unknown)';

export type MeshForwardOutcome = 'ok' | 'error' | 'refused' | 'timeout';

export interface MetricsOptions {
  /** Also export Node process metrics (CPU, memory, event-loop lag, GC) under `meshgate_process_*`/`meshgate_nodejs_*`. */
  processMetrics?: boolean;
  /** Distinct models and peers kept as label values before the rest are counted as `(other)`. */
  maxLabelValues?: number;
  /**
   * Whether a requested model is one this node or its peers serve. Other names (typos, made-up names a client can
   * send by the thousand) are counted under UNKNOWN_MODEL, so they cannot crowd real models out of the label set.
   * Absent: every name counts as known.
   */
  isKnownModel?: (model: string) => boolean;
}

/**
 * Bucket boundaries advised by the OpenTelemetry GenAI metrics conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-metrics/): token counts in powers of 4, durations in
 * seconds doubling from 10 ms, time to first token from 1 ms to 10 s.
 */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/** A state operation on loopback takes ~0.1 ms; a remote Redis a few ms; anything near timeout_ms is an outage. */
const STATE_BUCKETS = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Record fields → OTel `gen_ai.token.type` values ("input", "output"), plus our cache split for the meshgate counter. */
const TOKEN_COUNTS: ReadonlyArray<readonly [string, (record: UsageRecord) => number]> = [
  ['input', (r) => r.prompt_tokens],
  ['output', (r) => r.completion_tokens],
  ['cached_input', (r) => r.cached_tokens],
  ['cache_write_input', (r) => r.cache_write_tokens],
  ['reasoning_output', (r) => r.reasoning_tokens],
];

/** OTel GenAI attribute names as Prometheus labels (dots become underscores, per the OTel→Prometheus mapping). */
const GEN_AI_LABELS = ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_response_model'] as const;
type GenAiLabel = (typeof GEN_AI_LABELS)[number];
/** Kinds of request whose series stay bound; beyond, the bindings start over (the series themselves stay). */
const MAX_BOUND_KINDS = 4_096;

/**
 * The series one kind of request (operation, provider, models, status, where served, error) counts into, bound once
 * (see bound-series.ts); each is created on first use, so a series appears only once something was counted in it.
 */
interface RequestSeries {
  requests: CounterSeries<'model' | 'provider' | 'status_code' | 'served_by'>;
  tokens: Array<CounterSeries<'model' | 'provider' | 'token_type'> | undefined>;
  inputTokens?: HistogramSeries<GenAiLabel | 'gen_ai_token_type'>;
  outputTokens?: HistogramSeries<GenAiLabel | 'gen_ai_token_type'>;
  duration?: HistogramSeries<GenAiLabel | 'error_type'>;
  ttft?: HistogramSeries<GenAiLabel>;
  /** The cost of (model, provider), which every label of this kind includes. */
  cost?: CostEntry;
}

interface CostEntry {
  labels: { model: string; provider: string };
  micros: number;
}

/**
 * The node's Prometheus metrics, on a registry of its own (never prom-client's global one, so several nodes in one
 * process, as in the mesh tests, do not collide). Request-level metrics come from the finished request's usage
 * record (`observeRecord`), so /metrics and the records API agree; events the record cannot carry as they happen
 * (breaker state, quota rejections, mesh forwards, each upstream error and failover) have their own methods.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** The event-loop delay monitor (with the process metrics only), run while the node serves. */
  readonly eventLoopLag?: EventLoopLag;
  readonly #isKnownModel: MetricsOptions['isKnownModel'];
  readonly #models: LabelLimit;
  readonly #peers: LabelLimit;
  /** Cost per (model, provider) in integer micro-dollars; the counter is rebuilt from it at each scrape. */
  readonly #costMicros = new Map<string, CostEntry>();

  readonly #requests: BoundCounter<'model' | 'provider' | 'status_code' | 'served_by'>;
  readonly #tokens: BoundCounter<'model' | 'provider' | 'token_type'>;
  readonly #bound = new Map<string, RequestSeries>();
  /** The kind of the last request counted, with its series (see `#seriesOf`). */
  #lastKind?: {
    operation: string; provider: string; requested: string; model: string; status: number; servedBy: string; errorType: string | null; series: RequestSeries;
  };
  readonly #unpriced: Counter<'model'>;
  readonly #savedByFailover: Counter<'model'>;
  readonly #upstreamErrors: Counter<'provider' | 'kind'>;
  readonly #failovers: Counter<'from' | 'to'>;
  readonly #quotaRejections: Counter<'limit'>;
  readonly #federationReservations: Counter<'side' | 'outcome'>;
  readonly #meshForwards: Counter<'peer' | 'outcome'>;
  readonly #circuitState: Gauge<'provider' | 'state'>;
  readonly #stateLatency: Histogram<'backend' | 'operation'>;
  readonly #stateUp: Gauge<'backend'>;
  readonly #tokenUsage: BoundHistogram<GenAiLabel | 'gen_ai_token_type'>;
  readonly #duration: BoundHistogram<GenAiLabel | 'error_type'>;
  readonly #ttft: BoundHistogram<GenAiLabel>;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    const maxLabelValues = options.maxLabelValues ?? 500;
    this.#models = new LabelLimit(maxLabelValues);
    this.#isKnownModel = options.isKnownModel;
    this.#peers = new LabelLimit(maxLabelValues);
    if (options.processMetrics ?? true) {
      // prom-client's own delay monitor would sample every 10 ms for good, idle or not: it is given an interval that
      // never comes (its timer does not wake the process) and its gauges give way to EventLoopLag's, which samples
      // only while the node serves (resume/pause).
      collectDefaultMetrics({ register: this.registry, prefix: 'meshgate_', eventLoopMonitoringPrecision: 2 ** 31 - 1 });
      for (const name of EventLoopLag.NAMES) this.registry.removeSingleMetric(`meshgate_${name}`);
      this.eventLoopLag = new EventLoopLag(this.registry, 'meshgate_');
    }

    this.#requests = new BoundCounter({
      name: 'meshgate_requests_total', help: 'Client requests finished, by served model, provider, HTTP status and where they were served.',
      labelNames: ['model', 'provider', 'status_code', 'served_by'], registers,
    });
    this.#tokens = new BoundCounter({
      name: 'meshgate_tokens_total', help: 'Tokens used, by type (input includes cached_input and cache_write_input).',
      labelNames: ['model', 'provider', 'token_type'], registers,
    });
    const costs = this.#costMicros;
    new Counter({
      name: 'meshgate_cost_usd_total', help: 'Cost of priced requests in US dollars (summed exactly in micro-dollars).',
      labelNames: ['model', 'provider'], registers,
      collect() {
        this.reset();
        for (const { labels, micros } of costs.values()) this.inc(labels, microsToUsd(micros));
      },
    });
    this.#unpriced = new Counter({
      name: 'meshgate_unpriced_requests_total', help: 'Requests with tokens whose model has no known price (cost unknown, not zero).',
      labelNames: ['model'], registers,
    });
    this.#savedByFailover = new Counter({
      name: 'meshgate_failover_saved_requests_total', help: 'Requests that succeeded after failing over from another target.',
      labelNames: ['model'], registers,
    });
    this.#upstreamErrors = new Counter({
      name: 'meshgate_upstream_errors_total', help: 'Failed attempts at an upstream provider or peer, by kind.',
      labelNames: ['provider', 'kind'], registers,
    });
    this.#failovers = new Counter({
      name: 'meshgate_failovers_total', help: 'Moves from one target (provider or peer:<id>) to the next after a failure.',
      labelNames: ['from', 'to'], registers,
    });
    this.#quotaRejections = new Counter({
      name: 'meshgate_quota_rejections_total', help: 'Requests refused by a quota or rate limit, by limit.',
      labelNames: ['limit'], registers,
    });
    this.#meshForwards = new Counter({
      name: 'meshgate_mesh_forwards_total', help: 'Requests forwarded to mesh peers, by outcome.',
      labelNames: ['peer', 'outcome'], registers,
    });
    this.#federationReservations = new Counter({
      name: 'meshgate_federation_reservations_total',
      help: 'Quota reservations of federated tokens: side = serving (this node serves another gateway\'s token) or issuing (this node holds them for its own tokens), by outcome.',
      labelNames: ['side', 'outcome'], registers,
    });
    this.#stateLatency = new Histogram({
      name: 'meshgate_state_operation_seconds', help: 'Round trip of one operation on the shared state backend (reserve, settle, peek, revocation).',
      labelNames: ['backend', 'operation'], buckets: STATE_BUCKETS, registers,
    });
    this.#stateUp = new Gauge({
      name: 'meshgate_state_backend_up', help: 'Whether the shared state backend is reachable (1) or not (0).',
      labelNames: ['backend'], registers,
    });
    this.#circuitState = new Gauge({
      name: 'meshgate_circuit_breaker_state', help: 'Circuit breaker state per provider: 1 for the current state, 0 for the others.',
      labelNames: ['provider', 'state'], registers,
    });
    this.#tokenUsage = new BoundHistogram({
      name: 'gen_ai_client_token_usage', help: 'OTel gen_ai.client.token.usage: tokens per request, by gen_ai.token.type.',
      labelNames: [...GEN_AI_LABELS, 'gen_ai_token_type'], buckets: TOKEN_BUCKETS, registers,
    });
    this.#duration = new BoundHistogram({
      name: 'gen_ai_client_operation_duration_seconds', help: 'OTel gen_ai.client.operation.duration: request duration in seconds.',
      labelNames: [...GEN_AI_LABELS, 'error_type'], buckets: DURATION_BUCKETS, registers,
    });
    this.#ttft = new BoundHistogram({
      name: 'gen_ai_server_time_to_first_token_seconds', help: 'OTel gen_ai.server.time_to_first_token: seconds until the first output token of a stream.',
      labelNames: [...GEN_AI_LABELS], buckets: TTFT_BUCKETS, registers,
    });
  }

  /** Counts a finished request from its usage record. */
  observeRecord(record: UsageRecord): void {
    // A request something served was for a known model; only the others are looked up.
    const known = record.model !== null || (this.#isKnownModel?.(record.requested_model) ?? true);
    const requested = known ? this.#models.value(record.requested_model) : UNKNOWN_MODEL;
    const model = record.model ? this.#models.value(record.model) : requested;
    this.#countAttempts(record);
    const provider = record.provider ?? (record.served_by === 'peer' ? 'mesh' : record.served_by === 'cache' ? 'cache' : 'none');
    const series = this.#seriesOf(record, requested, model, provider);
    series.requests.value++;
    for (let i = 0; i < TOKEN_COUNTS.length; i++) {
      const [tokenType, count] = TOKEN_COUNTS[i]!;
      const tokens = count(record);
      if (tokens > 0) (series.tokens[i] ??= this.#tokens.series({ model, provider, token_type: tokenType })).value += tokens;
    }
    if (record.cost_micros !== null && record.cost_micros > 0) (series.cost ??= this.#costEntry(model, provider)).micros += record.cost_micros;
    if (!record.priced) this.#unpriced.inc({ model });
    if (record.failovers > 0 && record.status < 400) this.#savedByFailover.inc({ model });

    if (record.status < 400) {
      (series.inputTokens ??= this.#tokenUsage.series({ ...genAiLabels(record, provider, requested, model), gen_ai_token_type: 'input' })).observe(record.prompt_tokens);
      (series.outputTokens ??= this.#tokenUsage.series({ ...genAiLabels(record, provider, requested, model), gen_ai_token_type: 'output' })).observe(record.completion_tokens);
    }
    if (record.latency_ms !== null) {
      (series.duration ??= this.#duration.series({ ...genAiLabels(record, provider, requested, model), error_type: errorTypeLabel(record) })).observe(record.latency_ms / 1000);
    }
    if (record.stream && record.ttft_ms !== null) (series.ttft ??= this.#ttft.series(genAiLabels(record, provider, requested, model))).observe(record.ttft_ms / 1000);
  }

  /**
   * The bound series of this kind of request (every label any of them carries is in the key). Consecutive requests
   * are mostly of one kind: the last kind is compared field by field first, so the key is only made for a new kind.
   */
  #seriesOf(record: UsageRecord, requested: string, model: string, provider: string): RequestSeries {
    const last = this.#lastKind;
    if (
      last !== undefined && last.operation === record.operation && last.provider === provider && last.requested === requested && last.model === model &&
      last.status === record.status && last.servedBy === record.served_by && last.errorType === record.error_type
    ) {
      return last.series;
    }
    const key = `${record.operation}\u0000${provider}\u0000${requested}\u0000${model}\u0000${record.status}\u0000${record.served_by}\u0000${errorTypeLabel(record)}`;
    let series = this.#bound.get(key);
    if (!series) {
      if (this.#bound.size >= MAX_BOUND_KINDS) this.#bound.clear();
      series = { requests: this.#requests.series({ model, provider, status_code: String(record.status), served_by: record.served_by }), tokens: [] };
      this.#bound.set(key, series);
    }
    this.#lastKind = { operation: record.operation, provider, requested, model, status: record.status, servedBy: record.served_by, errorType: record.error_type, series };
    return series;
  }

  /** A provider removed at run time: its circuit series go, rather than showing its last state for ever. */
  forgetProvider(provider: string): void {
    for (const candidate of CIRCUIT_STATES) this.#circuitState.remove({ provider, state: candidate });
  }

  setCircuitState(provider: string, state: CircuitState): void {
    for (const candidate of CIRCUIT_STATES) this.#circuitState.set({ provider, state: candidate }, candidate === state ? 1 : 0);
  }

  /** One state-backend operation's round trip. */
  observeStateOperation(backend: string, operation: string, seconds: number): void {
    this.#stateLatency.observe({ backend, operation }, seconds);
  }

  setStateBackendUp(backend: string, up: boolean): void {
    this.#stateUp.set({ backend }, up ? 1 : 0);
  }

  /** A request refused by a limit (`requests_per_minute`, `tokens_per_day`, `ip_rate`, ...). */
  quotaRejected(limit: string): void {
    this.#quotaRejections.inc({ limit });
  }

  /** A federated reservation's step (`serving`: granted, refused, unavailable, offline; `issuing`: granted, refused, settled, released, expired, settle_refused). */
  federationReservation(side: 'serving' | 'issuing', outcome: string): void {
    this.#federationReservations.inc({ side, outcome });
  }

  meshForward(peer: string, outcome: MeshForwardOutcome): void {
    this.#meshForwards.inc({ peer: this.#peers.value(peer), outcome });
  }

  /** A failed attempt at `provider` (`kind`: an error code such as `upstream_timeout`, `http_429`, `connection`). */
  upstreamError(provider: string, kind: string): void {
    this.#upstreamErrors.inc({ provider, kind });
  }

  failover(from: string, to: string): void {
    this.#failovers.inc({ from: this.#target(from), to: this.#target(to) });
  }

  /** A provider id (bounded by the config) or `peer:<id>` (bounded through the peer label limit). */
  #target(target: string): string {
    const peer = peerOf(target);
    return peer === undefined ? target : `peer:${this.#peers.value(peer)}`;
  }

  /** Failed attempts (upstream errors, peers that failed) and forwards to peers, from the record's attempt list. */
  #countAttempts(record: UsageRecord): void {
    for (const attempt of record.attempts) {
      const peer = peerOf(attempt.target);
      if (peer !== undefined) {
        const outcome: MeshForwardOutcome = attempt.ok ? 'ok' : attempt.code === 'upstream_timeout' || attempt.code === 'timeout' ? 'timeout' : attempt.status !== undefined && attempt.status < 500 ? 'refused' : 'error';
        this.meshForward(peer, outcome);
      } else if (!attempt.ok) {
        this.upstreamError(attempt.target, attempt.code ?? (attempt.status ? `http_${attempt.status}` : 'error'));
      }
    }
  }

  /** Other processes of this node (workers) whose metrics `/metrics` sums with this one's. */
  #siblings?: () => Promise<MetricsSnapshot[]>;

  /**
   * Makes `text()` the whole node's: this registry plus every sibling's, summed per series (counters, histogram
   * buckets, gauges), as prom-client's cluster aggregation does (its `aggregator` per metric, sum by default).
   */
  aggregateWith(siblings: () => Promise<MetricsSnapshot[]>): void {
    this.#siblings = siblings;
  }

  /** This registry's metrics as data, for a primary to aggregate. */
  snapshot(): Promise<MetricsSnapshot> {
    return this.registry.getMetricsAsJSON() as Promise<MetricsSnapshot>;
  }

  /** The Prometheus text exposition of every metric (of every process of the node, when aggregating). */
  async text(): Promise<string> {
    if (!this.#siblings) return this.registry.metrics();
    const [own, siblings] = await Promise.all([this.snapshot(), this.#siblings()]);
    return AggregatorRegistry.aggregate([own, ...siblings]).metrics();
  }

  /** The cost entry of (model, provider), made on first use (a kind of request's series keeps it). */
  #costEntry(model: string, provider: string): CostEntry {
    const key = `${model}\u0000${provider}`;
    let entry = this.#costMicros.get(key);
    if (!entry) this.#costMicros.set(key, (entry = { labels: { model, provider }, micros: 0 }));
    return entry;
  }
}

/** OTel attributes: gen_ai.request.model is what the client asked for, gen_ai.response.model what served it. */
function genAiLabels(record: UsageRecord, provider: string, requested: string, model: string): Record<GenAiLabel, string> {
  return { gen_ai_operation_name: record.operation, gen_ai_provider_name: provider, gen_ai_request_model: requested, gen_ai_response_model: model };
}

/** OTel `error.type`: empty for a success, else the error's type (or its status when it has none). */
function errorTypeLabel(record: UsageRecord): string {
  return record.status < 400 ? '' : record.error_type ?? String(record.status);
}

export function createMetrics(options: MetricsOptions = {}): GatewayMetrics {
  return new GatewayMetrics(options);
}
