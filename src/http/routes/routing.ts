import type { FastifyPluginAsync } from 'fastify';
import { WIRE_FORMATS, type WireFormat } from '../../core/index.js';
import { badRequest, toGatewayError } from '../../errors/index.js';
import { modelNotFound } from '../../pipeline/model-not-found.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { noEligibleTarget, type RoutePlan } from '../../routing/index.js';
import { bodyObject, gatewayRequest } from '../context.js';

const round = (n: number) => Math.round(n * 1000) / 1000;

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
        facts: { input_price: facts.inputPrice ?? null, output_price: facts.outputPrice ?? null, context_window: facts.contextWindow ?? null, region: facts.region ?? null, circuit: facts.circuit, in_flight: facts.inFlight, capacity: facts.capacity },
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
    app.post<{ Querystring: { format?: string; model?: string } }>('/v1/routing/explain', { config: { format: 'openai' } }, async (request) => {
      const format = (request.query.format ?? 'openai') as WireFormat;
      if (!WIRE_FORMATS.includes(format)) throw badRequest(`format must be one of ${WIRE_FORMATS.join(', ')}.`, 'format');
      const body = bodyObject(request);
      const model = format === 'gemini' ? request.query.model : body.model;
      const req = gatewayRequest(request, { format, operation: 'chat', body, model, stream: body.stream === true });
      const { plan, estimate } = pipeline.explain(req);
      return explanation(plan, estimate);
    });
  };
}
