import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/pipeline/types.js';
import { PriceBook } from '../../../src/pricing/index.js';
import pino from 'pino';
import { OutcomeRecorder, countFailovers, usageRecordFromOutcome, usageRecordSchema, type UsageRecord } from '../../../src/records/index.js';

const outcome: Outcome = {
  requestId: 'req_abc',
  receivedAt: Date.UTC(2026, 10, 1),
  format: 'anthropic',
  operation: 'chat',
  requestedModel: 'gpt-4o',
  model: 'gpt-4o-2024-08-06',
  provider: 'openai-backup',
  principal: { kind: 'virtual_key', id: 'team-a' },
  project: 'alpha',
  source: 'ide',
  stream: true,
  attempts: [
    { target: 'openai-main', ok: false, status: 429, code: 'rate_limited', error: 'openai-main answered 429', durationMs: 12 },
    { target: 'openai-main', ok: false, status: 503, durationMs: 8 },
    { target: 'openai-backup', ok: true, status: 200, durationMs: 300 },
  ],
  status: 200,
  usage: { inputTokens: 1_000_000, outputTokens: 100_000, cachedInputTokens: 400_000 },
  ttftMs: 150,
  latencyMs: 2_000,
  findings: [{ type: 'email', location: 'messages[0].content', action: 'redacted' as const }],
  warnings: [],
};

describe('usageRecordFromOutcome', () => {
  const book = new PriceBook();

  it('records reasoning tokens as a part of the completion tokens, and reads older records without them as 0', () => {
    const record = usageRecordFromOutcome({ ...outcome, usage: { inputTokens: 10, outputTokens: 50, reasoningTokens: 30 } }, { priceBook: book, providerType: 'openai' });
    expect(record).toMatchObject({ completion_tokens: 50, reasoning_tokens: 30 });
    const { reasoning_tokens: _dropped, ...older } = record;
    expect(usageRecordSchema.parse(older).reasoning_tokens).toBe(0);
  });

  it('builds a valid record with failovers counted across targets (retries are not failovers) and the cost priced', () => {
    const record = usageRecordFromOutcome(outcome, { priceBook: book, providerType: 'openai' });
    expect(usageRecordSchema.parse(record)).toEqual(record);
    expect(record).toMatchObject({
      id: 'req_abc', project: 'alpha', source: 'ide', principal: { kind: 'virtual_key', id: 'team-a' },
      client_format: 'anthropic', requested_model: 'gpt-4o', model: 'gpt-4o-2024-08-06', provider: 'openai-backup',
      failovers: 1, status: 200, error_type: null, prompt_tokens: 1_000_000, completion_tokens: 100_000, cached_tokens: 400_000,
      // gpt-4o: 600k × 2.5 + 400k × 1.25 + 100k × 10 = 1.5 + 0.5 + 1.0 USD
      cost_micros: 3_000_000, priced: true, ttft_ms: 150, latency_ms: 2_000, stream: true, served_by: 'local', peer: null,
      findings: [{ type: 'email', location: 'messages[0].content', action: 'redacted' as const }],
    });
    expect(record.attempts[0]).toEqual({ target: 'openai-main', ok: false, status: 429, code: 'rate_limited', error: 'openai-main answered 429', duration_ms: 12 });
  });

  it('keeps the client address as per-IP quotas count it (IPv6 by /64) with its country, and neither when unknown', () => {
    const v6 = usageRecordFromOutcome({ ...outcome, ip: '2001:DB8:0:1:aaaa::7' }, { priceBook: book, countryOf: (ip) => (ip.startsWith('2001') ? 'NL' : undefined) });
    expect(v6).toMatchObject({ client_ip: '2001:db8:0:1::/64', country: 'NL' });
    expect(usageRecordFromOutcome({ ...outcome, ip: '198.51.100.4' }, { priceBook: book, countryOf: () => undefined })).toMatchObject({ client_ip: '198.51.100.4', country: null });
    expect(usageRecordFromOutcome(outcome, { priceBook: book })).toMatchObject({ client_ip: null, country: null });
  });

  it('records each request by its own client address when a recorder works an address out once while it repeats', async () => {
    const written: UsageRecord[] = [];
    const asked: string[] = [];
    const recorder = new OutcomeRecorder({ write: async (record) => (written.push(record), true) }, {
      priceBook: book, providerType: () => 'openai', logger: pino({ level: 'silent' }),
      countryOf: (ip) => (asked.push(ip), ip.startsWith('2001') ? 'NL' : undefined),
    });
    for (const ip of ['2001:db8::1', '2001:db8::1', '198.51.100.4', undefined, '2001:db8::1']) recorder.record({ ...outcome, ip });
    await recorder.drain();
    expect(written.map((r) => [r.client_ip, r.country])).toEqual([
      ['2001:db8:0:0::/64', 'NL'], ['2001:db8:0:0::/64', 'NL'], ['198.51.100.4', null], [null, null], ['2001:db8:0:0::/64', 'NL'],
    ]);
    expect(asked).toEqual(['2001:db8::1', '198.51.100.4', '2001:db8::1']);
  });

  it('flags an unpriced model with a null cost, and costs a request with no usage at 0', () => {
    const unpriced = usageRecordFromOutcome({ ...outcome, model: 'private-model', requestedModel: 'private-model' }, { priceBook: book });
    expect(unpriced).toMatchObject({ cost_micros: null, priced: false });
    const refused = usageRecordFromOutcome({ ...outcome, model: undefined, provider: undefined, usage: undefined, attempts: [], status: 429, errorType: 'rate_limit_error' }, { priceBook: book });
    expect(refused).toMatchObject({ cost_micros: 0, priced: true, served_by: 'none', prompt_tokens: 0, error_type: 'rate_limit_error' });
  });

  it('records a mesh-served request by its peer, with no local provider', () => {
    const record = usageRecordFromOutcome({ ...outcome, provider: undefined, peer: '12D3KooWServer' }, { priceBook: book });
    expect(record).toMatchObject({ served_by: 'peer', peer: '12D3KooWServer', provider: null, priced: true });
  });

  it('counts failovers as changes of target', () => {
    expect(countFailovers([])).toBe(0);
    expect(countFailovers(['a', 'a', 'a'])).toBe(0);
    expect(countFailovers(['a', 'b', 'b', 'peer:x'])).toBe(2);
  });
});
