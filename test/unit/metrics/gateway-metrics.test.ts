import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { createMetrics, metricsRoute, OTHER_LABEL } from '../../../src/metrics/index.js';
import { makeRecord, mixedRecords } from '../records/make-record.js';
import { parsePrometheusText, type Sample } from '../../helpers/prometheus.js';


const sum = (samples: Sample[], name: string, match: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);

describe('GatewayMetrics', () => {
  it('counts model names nobody serves under one label, so made-up names cannot push real models out', async () => {
    const metrics = createMetrics({ processMetrics: false, isKnownModel: (model) => model === 'gpt-4o-mini' });
    for (let i = 0; i < 600; i++) metrics.observeRecord(makeRecord({ id: `bogus-${i}`, time: 1, requested_model: `bogus-${i}`, model: null, status: 404, provider: null }));
    metrics.observeRecord(makeRecord({ id: 'real', time: 2, requested_model: 'gpt-4o-mini', model: 'gpt-4o-mini', status: 200 }));
    const { samples } = parsePrometheusText(await metrics.text());
    expect(sum(samples, 'meshgate_requests_total', { model: '(unknown)' })).toBe(600);
    expect(sum(samples, 'meshgate_requests_total', { model: 'gpt-4o-mini', status_code: '200' })).toBe(1);
  });

  it('exposes counters and histograms that match the usage records they were fed', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const records = mixedRecords(Date.UTC(2026, 10, 1));
    for (const record of records) {
      metrics.observeRecord(record);
      const targets = record.attempts.map((a) => a.target);
      for (let i = 1; i < targets.length; i++) if (targets[i] !== targets[i - 1]) metrics.failover(targets[i - 1]!, targets[i]!);
    }
    const { samples, types } = parsePrometheusText(await metrics.text());

    expect(types.get('meshgate_requests_total')).toBe('counter');
    expect(types.get('gen_ai_client_token_usage')).toBe('histogram');
    expect(types.get('gen_ai_client_operation_duration_seconds')).toBe('histogram');
    expect(types.get('gen_ai_server_time_to_first_token_seconds')).toBe('histogram');

    expect(sum(samples, 'meshgate_requests_total')).toBe(records.length);
    for (const status of new Set(records.map((r) => r.status))) {
      expect(sum(samples, 'meshgate_requests_total', { status_code: String(status) })).toBe(records.filter((r) => r.status === status).length);
    }
    expect(sum(samples, 'meshgate_requests_total', { served_by: 'peer' })).toBe(1);
    expect(sum(samples, 'meshgate_requests_total', { model: 'gpt-4o', provider: 'openai-main' })).toBe(2);

    expect(sum(samples, 'meshgate_tokens_total', { token_type: 'input' })).toBe(records.reduce((t, r) => t + r.prompt_tokens, 0));
    expect(sum(samples, 'meshgate_tokens_total', { token_type: 'output' })).toBe(records.reduce((t, r) => t + r.completion_tokens, 0));
    expect(sum(samples, 'meshgate_tokens_total', { token_type: 'cached_input' })).toBe(records.reduce((t, r) => t + r.cached_tokens, 0));
    expect(sum(samples, 'meshgate_tokens_total', { token_type: 'cache_write_input' })).toBe(records.reduce((t, r) => t + r.cache_write_tokens, 0));

    const costMicros = records.reduce((t, r) => t + (r.cost_micros ?? 0), 0);
    expect(Math.round(sum(samples, 'meshgate_cost_usd_total') * 1_000_000)).toBe(costMicros);
    expect(sum(samples, 'meshgate_cost_usd_total', { model: 'gpt-4o', provider: 'openai-main' })).toBe(0.00165);
    expect(sum(samples, 'meshgate_unpriced_requests_total')).toBe(records.filter((r) => !r.priced).length);
    expect(sum(samples, 'meshgate_failover_saved_requests_total')).toBe(records.filter((r) => r.failovers > 0 && r.status < 400).length);
    expect(sum(samples, 'meshgate_failovers_total')).toBe(records.reduce((t, r) => t + r.failovers, 0));
    expect(sum(samples, 'meshgate_failovers_total', { from: 'openai-main', to: 'anthropic-main' })).toBe(2);
    // Failed attempts come from each record's attempt list: provider failures as upstream errors, peers as forwards.
    const attempts = records.flatMap((r) => r.attempts);
    expect(sum(samples, 'meshgate_upstream_errors_total')).toBe(attempts.filter((a) => !a.ok && !a.target.startsWith('peer:')).length);
    expect(sum(samples, 'meshgate_mesh_forwards_total')).toBe(attempts.filter((a) => a.target.startsWith('peer:')).length);

    const withLatency = records.filter((r) => r.latency_ms !== null);
    expect(sum(samples, 'gen_ai_client_operation_duration_seconds_count')).toBe(withLatency.length);
    expect(sum(samples, 'gen_ai_client_operation_duration_seconds_sum')).toBeCloseTo(withLatency.reduce((t, r) => t + r.latency_ms!, 0) / 1000, 9);
    expect(sum(samples, 'gen_ai_client_operation_duration_seconds_count', { error_type: 'upstream_error' })).toBe(1);
    expect(sum(samples, 'gen_ai_client_operation_duration_seconds_bucket', { le: '+Inf' })).toBe(withLatency.length);
    expect(sum(samples, 'gen_ai_server_time_to_first_token_seconds_count')).toBe(records.filter((r) => r.stream && r.ttft_ms !== null).length);
    expect(sum(samples, 'gen_ai_server_time_to_first_token_seconds_sum')).toBeCloseTo(0.04, 9);

    const succeeded = records.filter((r) => r.status < 400);
    expect(sum(samples, 'gen_ai_client_token_usage_count', { gen_ai_token_type: 'input' })).toBe(succeeded.length);
    expect(sum(samples, 'gen_ai_client_token_usage_sum', { gen_ai_token_type: 'output' })).toBe(succeeded.reduce((t, r) => t + r.completion_tokens, 0));
    expect(sum(samples, 'gen_ai_client_token_usage_count', { gen_ai_request_model: 'gpt-4o', gen_ai_response_model: 'claude-sonnet-4', gen_ai_token_type: 'input' })).toBe(1);
  });

  it('counts requests of alternating kinds each into its own series, however little tells two kinds apart', async () => {
    const metrics = createMetrics({ processMetrics: false });
    // Each kind differs from the one before in a single label (a repeated kind reuses the series bound last).
    const kinds = [
      { status: 200, error_type: null, provider: 'openai-main', served_by: 'local' as const, cost_micros: 10 },
      { status: 500, error_type: 'upstream_error', provider: 'openai-main', served_by: 'local' as const, cost_micros: null },
      { status: 500, error_type: 'timeout', provider: 'openai-main', served_by: 'local' as const, cost_micros: null },
      { status: 200, error_type: null, provider: 'openai-backup', served_by: 'local' as const, cost_micros: 7 },
      { status: 200, error_type: null, provider: 'openai-backup', served_by: 'local' as const, cost_micros: 7, requested_model: 'alias' },
    ];
    for (let round = 0; round < 3; round++) {
      for (const [i, kind] of kinds.entries()) {
        for (let n = 0; n <= i; n++) metrics.observeRecord(makeRecord({ id: `k${round}-${i}-${n}`, time: 1, model: 'gpt-4o', requested_model: 'gpt-4o', latency_ms: 100, ...kind }));
      }
    }
    const { samples } = parsePrometheusText(await metrics.text());
    expect(sum(samples, 'meshgate_requests_total', { provider: 'openai-main', status_code: '200' })).toBe(3);
    expect(sum(samples, 'meshgate_requests_total', { provider: 'openai-main', status_code: '500' })).toBe(15);
    expect(sum(samples, 'meshgate_requests_total', { provider: 'openai-backup' })).toBe(27);
    const duration = 'gen_ai_client_operation_duration_seconds_count';
    expect(sum(samples, duration, { error_type: 'upstream_error' })).toBe(6);
    expect(sum(samples, duration, { error_type: 'timeout' })).toBe(9);
    expect(sum(samples, duration, { gen_ai_request_model: 'alias' })).toBe(15);
    expect(sum(samples, duration, { gen_ai_request_model: 'gpt-4o', gen_ai_provider_name: 'openai-backup' })).toBe(12);
    expect(Math.round(sum(samples, 'meshgate_cost_usd_total', { provider: 'openai-main' }) * 1_000_000)).toBe(30);
    expect(Math.round(sum(samples, 'meshgate_cost_usd_total', { provider: 'openai-backup' }) * 1_000_000)).toBe(189);
  });

  it('reports circuit breaker state one-hot, quota rejections and mesh forwards', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.setCircuitState('openai-main', 'open');
    metrics.setCircuitState('openai-main', 'half_open');
    metrics.setCircuitState('anthropic-main', 'closed');
    metrics.quotaRejected('requests_per_minute');
    metrics.quotaRejected('requests_per_minute');
    metrics.quotaRejected('cost_per_day');
    metrics.meshForward('12D3KooWPeerB', 'ok');
    metrics.meshForward('12D3KooWPeerB', 'error');
    const { samples } = parsePrometheusText(await metrics.text());
    expect(sum(samples, 'meshgate_circuit_breaker_state', { provider: 'openai-main', state: 'half_open' })).toBe(1);
    expect(sum(samples, 'meshgate_circuit_breaker_state', { provider: 'openai-main' })).toBe(1);
    expect(sum(samples, 'meshgate_circuit_breaker_state', { provider: 'anthropic-main', state: 'closed' })).toBe(1);
    expect(sum(samples, 'meshgate_quota_rejections_total', { limit: 'requests_per_minute' })).toBe(2);
    expect(sum(samples, 'meshgate_quota_rejections_total')).toBe(3);
    expect(sum(samples, 'meshgate_mesh_forwards_total', { peer: '12D3KooWPeerB' })).toBe(2);
  });

  it('caps the distinct model label values so made-up model names cannot create unbounded series', async () => {
    const metrics = createMetrics({ processMetrics: false, maxLabelValues: 2 });
    for (const [i, model] of ['a', 'b', 'c', 'd', 'a'].entries()) {
      metrics.observeRecord(makeRecord({ id: `m${i}`, time: i, model: null, requested_model: model, status: 404, provider: null, served_by: 'none' }));
    }
    const { samples } = parsePrometheusText(await metrics.text());
    const models = samples.filter((s) => s.name === 'meshgate_requests_total').map((s) => [s.labels.model, s.value]);
    expect(Object.fromEntries(models)).toEqual({ a: 2, b: 1, [OTHER_LABEL]: 2 });
  });

  it('keeps each node on its own registry and serves GET /metrics in the Prometheus text format', async () => {
    const one = createMetrics();
    const two = createMetrics();
    one.quotaRejected('ip_rate');
    const app = Fastify();
    await app.register(metricsRoute(two));
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    await app.close();
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = parsePrometheusText(response.body);
    expect(sum(samples, 'meshgate_quota_rejections_total')).toBe(0);
    expect(types.get('meshgate_process_cpu_seconds_total')).toBe('counter');
  });
});
