import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../src/records/index.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { PROCESS_TEST_TIMEOUT_MS, recordedIds, startNodeProcess } from '../helpers/node-process.js';
import { parsePrometheusText } from '../helpers/prometheus.js';

let primary: MockUpstream;
let backup: MockUpstream;
let node: TestGateway;

beforeAll(async () => {
  primary = await startMockUpstream();
  backup = await startMockUpstream();
  node = await startTestGateway(
    [
      { id: 'primary', type: 'openai', base_url: primary.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 },
      { id: 'backup', type: 'anthropic', base_url: backup.anthropicBaseUrl, api_key: TEST_KEY, models: ['gpt-4o', 'claude-sonnet-4-5'] },
      { id: 'gem', type: 'gemini', base_url: primary.geminiBaseUrl, api_key: TEST_KEY, models: ['gemini-2.5-pro'] },
    ],
    { records: { flush_interval_ms: 20 } },
  );
});

afterAll(async () => {
  await node?.close();
  await primary?.close();
  await backup?.close();
});

/** Operator routes (records, stats, projects) need the admin key. */
const adminHeaders = () => ({ authorization: `Bearer ${node.gateway.access.adminKey.secret.reveal()}` });
const get = async <T>(path: string) => (await (await fetch(`${node.url}${path}`, { headers: adminHeaders() })).json()) as T;

describe('usage records, stats and metrics over a mixed load', () => {
  it('records every request with who, what, where, how fast and how much; stats and /metrics agree with them', async () => {
    const openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'x', maxRetries: 0, defaultHeaders: { 'x-project': 'alpha', 'x-source': 'web' } });
    const anthropic = new Anthropic({ baseURL: node.url, apiKey: 'x', maxRetries: 0, defaultHeaders: { 'x-project': 'beta' } });
    const ids: string[] = [];
    // 1. plain, local
    ids.push((await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'one' }] }).withResponse()).response.headers.get('x-request-id')!);
    // 2. streamed
    const stream = await openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'two' }] }).withResponse();
    for await (const _chunk of stream.data) { /* drain */ }
    ids.push(stream.response.headers.get('x-request-id')!);
    // 3. failed over: the primary answers 500, the backup serves
    primary.enqueue({ kind: 'error', status: 500 });
    ids.push((await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'three' }] }).withResponse()).response.headers.get('x-request-id')!);
    // 4. failed: both fail
    primary.enqueue({ kind: 'error', status: 503 });
    backup.enqueue({ kind: 'error', status: 500 }, { kind: 'error', status: 500 }); // the backup retries once
    const failed = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'four' }] }).catch((e) => e);
    expect(failed.status).toBe(502);
    // 5. translated (Anthropic client → Gemini), with cached tokens
    ids.push((await anthropic.messages.create({ model: 'gemini-2.5-pro', max_tokens: 50, messages: [{ role: 'user', content: '[cache] five' }] }).withResponse()).response.headers.get('x-request-id')!);

    await node.waitForOutcomes(5);
    await node.gateway.records.flush();
    const { data } = await get<{ data: UsageRecord[] }>('/v1/records?limit=100');
    expect(data).toHaveLength(5);
    const byId = new Map(data.map((r) => [r.id, r]));
    for (const id of ids) expect(byId.has(id), `record for ${id}`).toBe(true);

    const plain = byId.get(ids[0]!)!;
    expect(plain).toMatchObject({ project: 'alpha', source: 'web', client_format: 'openai', requested_model: 'gpt-4o', provider: 'primary', status: 200, stream: false, served_by: 'local', failovers: 0, priced: true });
    expect(plain.prompt_tokens).toBeGreaterThan(0);
    const expectedCost = node.gateway.priceBook.costOf({ providerType: 'openai', model: 'gpt-4o', usage: { inputTokens: plain.prompt_tokens, outputTokens: plain.completion_tokens } });
    expect(plain.cost_micros).toBe(expectedCost.costMicros);
    expect(byId.get(ids[1]!)).toMatchObject({ stream: true, status: 200, usage_estimated: false });
    expect(byId.get(ids[1]!)!.ttft_ms).not.toBeNull();
    const failedOver = byId.get(ids[2]!)!;
    expect(failedOver).toMatchObject({ provider: 'backup', model: 'gpt-4o', failovers: 1, status: 200 });
    expect(failedOver.attempts.map((a) => [a.target, a.ok])).toEqual([['primary', false], ['backup', true]]);
    const translated = byId.get(ids[3]!)!;
    expect(translated).toMatchObject({ client_format: 'anthropic', provider: 'gem', project: 'beta' });
    expect(translated.cached_tokens).toBeGreaterThan(0);
    const failedRecord = data.find((r) => r.status === 502)!;
    expect(failedRecord).toMatchObject({ error_type: 'upstream_error', provider: null, prompt_tokens: 0, cost_micros: 0 });

    // A cached-token request costs less than the same tokens uncached.
    const uncached = node.gateway.priceBook.costOf({ providerType: 'gemini', model: 'gemini-2.5-pro', usage: { inputTokens: translated.prompt_tokens, outputTokens: translated.completion_tokens } });
    expect(translated.cost_micros).toBeLessThan(uncached.costMicros!);

    const stats = await get<{ totals: { requests: number; prompt_tokens: number }; by: Record<string, Array<{ key: string; requests: number }>> }>('/v1/stats');
    expect(stats.totals.requests).toBe(5);
    expect(stats.by.project!.find((g) => g.key === 'alpha')!.requests).toBe(4);
    expect(stats.by.provider!.find((g) => g.key === 'backup')!.requests).toBe(1);

    const projects = await get<{ data: Array<{ id: string }> }>('/v1/projects?active_since_mins=5');
    expect(projects.data.map((p) => p.id).sort()).toEqual(['alpha', 'beta']);
    expect((await fetch(`${node.url}/v1/records`)).status).toBe(401);
    const csv = await (await fetch(`${node.url}/v1/records/export?format=csv`, { headers: adminHeaders() })).text();
    expect(csv.trim().split('\n')).toHaveLength(6);

    const { samples } = parsePrometheusText(await (await fetch(`${node.url}/metrics`)).text());
    const sum = (name: string, filter: (l: Record<string, string>) => boolean = () => true) =>
      samples.filter((s) => s.name === name && filter(s.labels)).reduce((n, s) => n + s.value, 0);
    expect(sum('meshgate_requests_total')).toBe(5);
    expect(sum('meshgate_requests_total', (l) => l.status_code === '502')).toBe(1);
    expect(sum('meshgate_tokens_total', (l) => l.token_type === 'output')).toBe(data.reduce((n, r) => n + r.completion_tokens, 0));
    expect(sum('meshgate_failovers_total')).toBeGreaterThanOrEqual(2);
    expect(sum('meshgate_cost_usd_total')).toBeCloseTo(data.reduce((n, r) => n + (r.cost_micros ?? 0), 0) / 1e6, 6);
  });
});

describe('durability', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('a node killed with SIGKILL keeps the record of every request that had completed (group commit)', async () => {
    const mock = await startMockUpstream();
    const dir = await mkdtemp(join(tmpdir(), 'meshgate-sigkill-'));
    const node = await startNodeProcess(mock, dir, { logLevel: 'debug' });
    const { child, url } = node;
    try {
      const completed: string[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: `request ${i}` }] }) });
        expect(res.status).toBe(200);
        completed.push(res.headers.get('x-request-id')!);
        await res.text();
      }
      // The node says (debug log) when a batch is on disk: kill it the moment the last completed request's record is.
      const written = new Set<string>();
      await node.waitForLog((line) => {
        if (line.msg === 'usage records written') for (const id of line.ids as string[]) written.add(id);
        return completed.every((id) => written.has(id));
      }, 30_000);
      child.kill('SIGKILL');
      await node.exited;
      const recorded = await recordedIds(dir);
      for (const id of completed) expect(recorded.has(id), `record of completed request ${id}`).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await mock.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
