import type { UsageRecord } from '../../../src/records/index.js';

/** A valid usage record for tests: a successful, priced, non-streamed local chat request unless overridden. */
export function makeRecord(overrides: Partial<UsageRecord> & { id: string; time: number }): UsageRecord {
  return {
    project: null,
    source: null,
    principal: { kind: 'token', id: 'tok_1' },
    client_format: 'openai',
    operation: 'chat',
    requested_model: 'gpt-4o',
    model: 'gpt-4o',
    provider: 'openai-main',
    attempts: [{ target: 'openai-main', ok: true, status: 200, duration_ms: 100 }],
    failovers: 0,
    status: 200,
    error_type: null,
    prompt_tokens: 100,
    completion_tokens: 20,
    cached_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    usage_estimated: false,
    cost_micros: 450,
    priced: true,
    latency_ms: 120,
    ttft_ms: null,
    stream: false,
    served_by: 'local',
    peer: null,
    cache: null,
    findings: [],
    client_aborted: false,
    client_ip: null,
    country: null,
    profile: null,
    ...overrides,
  };
}

/**
 * A mix of requests: models, providers, projects, sources, principals, a failover that saved a request, a failed
 * request, a streamed one, a mesh-served one and an unpriced one. Times are `base + i * 1000`.
 */
export function mixedRecords(base: number): UsageRecord[] {
  return [
    makeRecord({ id: 'r00', time: base, project: 'alpha', source: 'web' }),
    makeRecord({ id: 'r01', time: base + 1000, project: 'alpha', source: 'cli', stream: true, ttft_ms: 40, latency_ms: 900, cost_micros: 1200, prompt_tokens: 300, completion_tokens: 50, cached_tokens: 200 }),
    makeRecord({
      id: 'r02', time: base + 2000, project: 'beta', source: 'web', model: 'claude-sonnet-4', requested_model: 'gpt-4o', provider: 'anthropic-main',
      attempts: [
        { target: 'openai-main', ok: false, status: 503, code: 'upstream_error', error: 'openai-main answered 503', duration_ms: 30 },
        { target: 'anthropic-main', ok: true, status: 200, duration_ms: 200 },
      ],
      failovers: 1, cost_micros: 900, cache_write_tokens: 50, prompt_tokens: 150,
    }),
    makeRecord({
      id: 'r03', time: base + 3000, project: 'beta', source: 'cli', status: 502, error_type: 'upstream_error', model: null, provider: null,
      attempts: [
        { target: 'openai-main', ok: false, status: 500, error: 'boom', duration_ms: 10 },
        { target: 'anthropic-main', ok: false, status: 529, error: 'overloaded', duration_ms: 12 },
      ],
      failovers: 1, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0, served_by: 'none', latency_ms: 40,
    }),
    makeRecord({ id: 'r04', time: base + 4000, project: null, source: 'web', principal: { kind: 'peer', id: '12D3KooWPeerA' }, provider: null, served_by: 'peer', peer: '12D3KooWPeerB', cost_micros: 300 }),
    makeRecord({ id: 'r05', time: base + 5000, project: 'alpha', model: 'my-llm', requested_model: 'my-llm', provider: 'local-vllm', cost_micros: null, priced: false, principal: { kind: 'virtual_key', id: 'team-a' } }),
    makeRecord({ id: 'r06', time: base + 6000, project: 'gamma', source: 'batch', status: 429, error_type: 'rate_limit_error', model: null, provider: null, attempts: [], prompt_tokens: 0, completion_tokens: 0, cost_micros: 0, served_by: 'none', latency_ms: 1 }),
  ];
}
