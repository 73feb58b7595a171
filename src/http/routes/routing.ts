import type { FastifyPluginAsync } from 'fastify';
import { WIRE_FORMATS } from '../../core/index.js';
import { badRequest, toGatewayError } from '../../errors/index.js';
import { modelNotFound } from '../../pipeline/model-not-found.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { TargetStats } from '../../router/target-stats.js';
import type { QualityGroup } from '../../signals/index.js';
import { noEligibleTarget, type RoutePlan } from '../../routing/index.js';
import { z } from 'zod';
import type { RouteDoc } from '../../openapi/index.js';
import { bodyObject, gatewayRequest } from '../context.js';

const explainQuerySchema = z.object({
  /** The wire format of the body (default OpenAI Chat Completions). */
  format: z.enum(WIRE_FORMATS).default('openai'),
  /** Gemini: the model (other formats name it in the body). */
  model: z.string().min(1).max(256).optional(),
}).strict();

const reasonSchema = z.object({ code: z.string(), message: z.string() });
const explanationSchema = z.object({
  requested: z.string(), name: z.string(), group: z.string().nullable(), profile: z.string().nullable(), strategy: z.string(),
  estimate: z.object({ input_tokens: z.number(), max_output_tokens: z.number() }),
  layers: z.object({
    candidates: z.array(z.object({ target: z.string(), provider: z.string(), model: z.string(), source: z.enum(['group', 'catalog', 'mesh']), weight: z.number() })),
    filter: z.object({ kept: z.array(z.string()), dropped: z.array(z.object({ target: z.string(), reasons: z.array(reasonSchema) })) }),
    score: z.array(z.object({ target: z.string(), score: z.number(), signals: z.record(z.string(), z.number()), measured: z.record(z.string(), z.number().nullable()), facts: z.record(z.string(), z.union([z.number(), z.string()]).nullable()) })),
    rank: z.array(z.string()),
  }),
  plan: z.array(z.object({ target: z.string(), provider: z.string(), model: z.string(), peer: z.boolean() })),
  refusal: z.object({ status: z.number(), code: z.string(), message: z.string() }).optional(),
});

const explainDoc: RouteDoc = {
  tag: 'Routing',
  summary: 'Explain how a chat request would be routed, without calling any provider',
  description: 'Each layer of the routing engine — candidates, filter (kept, dropped and why), score (normalised signals), rank — and the attempt plan. The mesh target (`peer:*`) carries the price of the cheapest peer advert the pricing rules allow (`facts.priced_by` names that peer). `x-meshgate-profile` and a `meshgate.profile` body field choose a profile as on a real request.',
  query: explainQuerySchema,
  body: z.record(z.string(), z.unknown()),
  bodyExample: { model: 'fast', messages: [{ role: 'user', content: 'Hello' }], meshgate: { profile: 'cheap' } },
  headers: { 'x-meshgate-profile': { description: 'Routing profile id.' } },
  responses: { 200: { description: 'What each layer did, and the plan.', schema: explanationSchema } },
};

const percentiles = z.object({ p50: z.number().nullable(), p95: z.number().nullable() });
const qualitySchema = z.object({ score: z.number(), weight: z.number().describe('Decayed number of signals behind the score.') });
const targetSignalsSchema = z.object({
  target: z.string().describe('`provider/model`, or `peer:*/model` for the mesh.'),
  provider: z.string(),
  model: z.string(),
  samples: z.number().int().describe('Attempts measured on this node (success rate, latencies: the last 128 answers).'),
  success_rate: z.number().nullable(),
  ttft_ms: percentiles,
  duration_ms: percentiles,
  latency_ewma_ms: z.number().nullable(),
  quality: qualitySchema.nullable().describe('Quality from user signals over every profile, null when none were given.'),
  profiles: z.array(qualitySchema.extend({ profile: z.string() })).describe('Quality from the signals of requests planned with each profile.'),
});
const signalsDoc: RouteDoc = {
  tag: 'Routing',
  summary: 'The signals routing reads, per target: measured success rate and latency percentiles, quality from user signals',
  description: 'What the Score and Rank layers see for each target this node measured or was given signals about: success rate (EWMA), TTFT and duration p50/p95 (the last 128 answers), the latency EWMA, and the decayed quality score overall and per profile. The portal\'s model cards show them.',
  responses: { 200: { description: 'One entry per target.', schema: z.object({ object: z.literal('list'), data: z.array(targetSignalsSchema) }) } },
};

const round = (n: number) => Math.round(n * 1000) / 1000;
const orNull = (n: number | undefined) => (n === undefined ? null : round(n));

/** Measured signals and quality aggregates joined per target (`provider/model`). */
export function targetSignals(stats: TargetStats, quality: QualityGroup[]): Array<z.infer<typeof targetSignalsSchema>> {
  const keys = new Set(stats.targets());
  for (const group of quality) keys.add(`${group.target}/${group.model}`);
  return [...keys].sort().map((key) => {
    const at = key.indexOf('/', key.startsWith('peer:') ? key.indexOf(':') : 0);
    const [provider, model] = [key.slice(0, at), key.slice(at + 1)];
    const measured = stats.signals(key);
    const groups = quality.filter((g) => g.target === provider && g.model === model);
    const overall = groups.find((g) => g.profile === null);
    return {
      target: key, provider, model, samples: measured.samples, success_rate: orNull(measured.successRate),
      ttft_ms: { p50: orNull(measured.ttftP50), p95: orNull(measured.ttftP95) },
      duration_ms: { p50: orNull(measured.durationP50), p95: orNull(measured.durationP95) },
      latency_ewma_ms: orNull(measured.latencyEwma),
      quality: overall ? { score: round(overall.score), weight: round(overall.weight) } : null,
      profiles: groups.filter((g) => g.profile !== null).map((g) => ({ profile: g.profile!, score: round(g.score), weight: round(g.weight) })),
    };
  });
}

/** `GET /v1/routing/signals` (admin key): the signals routing reads, per target. */
export function routingSignalsRoute(stats: TargetStats, quality: { groups(): QualityGroup[] }): FastifyPluginAsync {
  return async (app) => {
    app.get('/v1/routing/signals', { config: { doc: signalsDoc } }, async () => ({ object: 'list' as const, data: targetSignals(stats, quality.groups()) }));
  };
}

/** The plan as the explain route answers it: one entry per layer, in the order they ran. */
function explanation(plan: RoutePlan, estimate: { inputTokens: number; maxOutputTokens: number }) {
  const refusal = plan.plan.length > 0 ? undefined
    : plan.candidates.length > 0 || plan.dropped.length > 0 ? toGatewayError(noEligibleTarget(plan))
      : modelNotFound(plan.requested);
  return {
    requested: plan.requested,
    name: plan.name,
    group: plan.group ?? null,
    profile: plan.profile ?? null,
    strategy: plan.strategy,
    estimate: { input_tokens: estimate.inputTokens, max_output_tokens: estimate.maxOutputTokens },
    layers: {
      candidates: plan.candidates.map((t) => ({ target: t.key, provider: t.provider, model: t.model, source: t.source, weight: t.weight })),
      filter: {
        kept: plan.plan.map((p) => p.target.key),
        dropped: plan.dropped.map(({ target, reasons }) => ({ target: target.key, reasons })),
      },
      score: plan.plan.map(({ target, facts, measured, score, signals }) => ({
        target: target.key, score: round(score),
        signals: Object.fromEntries(Object.entries(signals).map(([k, v]) => [k, round(v)])),
        measured: { samples: measured.samples, ttft_p50_ms: measured.ttftP50 ?? null, ttft_p95_ms: measured.ttftP95 ?? null, duration_p50_ms: measured.durationP50 ?? null, duration_p95_ms: measured.durationP95 ?? null, latency_ewma_ms: measured.latencyEwma === undefined ? null : round(measured.latencyEwma), success_rate: measured.successRate === undefined ? null : round(measured.successRate) },
        facts: { input_price: facts.inputPrice ?? null, output_price: facts.outputPrice ?? null, priced_by: facts.pricedBy ?? null, context_window: facts.contextWindow ?? null, region: facts.region ?? null, circuit: facts.circuit, in_flight: facts.inFlight, capacity: facts.capacity },
      })),
      rank: plan.plan.map((p) => p.target.key),
    },
    plan: plan.plan.map(({ target }) => ({ target: target.key, provider: target.provider, model: target.model, peer: target.peer })),
    ...(refusal ? { refusal: { status: refusal.status, code: refusal.code, message: refusal.message } } : {}),
  };
}

/**
 * `POST /v1/routing/explain` (admin key): takes a chat request as a client would send it (OpenAI format, or
 * `?format=anthropic|gemini`; Gemini names the model in `?model=`) and answers what each routing layer kept, dropped
 * (and why) and scored, and the attempt plan — without calling any provider or peer.
 */
export function routingRoutes(pipeline: Pipeline): FastifyPluginAsync {
  return async (app) => {
    app.post('/v1/routing/explain', { config: { format: 'openai', doc: explainDoc } }, async (request) => {
      const query = explainQuerySchema.safeParse(request.query);
      if (!query.success) throw badRequest(`Invalid query: format is one of ${WIRE_FORMATS.join(', ')}, model a model name.`, 'format');
      const { format } = query.data;
      const body = bodyObject(request);
      const model = format === 'gemini' ? query.data.model : body.model;
      const req = gatewayRequest(request, { format, operation: 'chat', body, model, stream: body.stream === true });
      const { plan, estimate } = pipeline.explain(req);
      return explanation(plan, estimate);
    });
  };
}
