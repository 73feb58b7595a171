import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startTestGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';

/**
 * The routing engine on a real node with two mock upstreams: `fastp` answers at once and serves an expensive model,
 * `cheapp` answers after 80 ms and serves a cheap one. Groups over both show each strategy, profiles and fallbacks.
 */
let fast: MockUpstream;
let cheap: MockUpstream;
let node: TestGateway;
const KEY_CHEAP = 'key-with-profile-cheap-0001';
const KEY_LOW_PRICE = 'key-with-max-output-price-01';
const KEY_FREE = 'key-with-free-only-00000001';

const targets = [
  { provider: 'fastp', model: 'dear-m', context_window: 1_000 },
  { provider: 'cheapp', model: 'cheap-m', context_window: 100_000 },
];

beforeAll(async () => {
  [fast, cheap] = await Promise.all([startMockUpstream(), startMockUpstream()]);
  node = await startTestGateway(
    [
      { id: 'fastp', type: 'openai', base_url: fast.openaiBaseUrl, api_key: TEST_KEY, models: ['dear-m', 'shared-m'], max_retries: 0 },
      { id: 'cheapp', type: 'openai', base_url: cheap.openaiBaseUrl, api_key: TEST_KEY, models: ['cheap-m', 'shared-m'], max_retries: 0 },
    ],
    {
      auth: { mode: ['public', 'key', 'token'] },
      key_map: {
        [KEY_CHEAP]: { label: 'cheap by default', profile: 'cheap' },
        [KEY_LOW_PRICE]: { label: 'low price', max_output_price: 1 },
        [KEY_FREE]: { label: 'free only', free_only: true },
      },
      pricing: { 'dear-m': { input: 5, output: 15 }, 'cheap-m': { input: 0.1, output: 0.4 } },
      models: [
        { name: 'ordered', targets },
        { name: 'by-latency', strategy: 'latency', targets },
        { name: 'by-price', strategy: 'cheapest', targets: [...targets].reverse() },
        { name: 'by-weight', strategy: 'weighted', targets: [{ ...targets[0]!, weight: 3 }, { ...targets[1]!, weight: 1 }] },
        { name: 'by-load', strategy: 'least_busy', targets },
        { name: 'dear-m-2024-11-20', alias_of: 'dear-m' },
      ],
      routing: { fallbacks: { content_policy: ['cheap-m'] } },
    },
  );
});

afterAll(async () => {
  await node?.close();
  await Promise.all([fast?.close(), cheap?.close()]);
});

beforeEach(() => {
  fast.reset();
  cheap.reset();
  fast.setDefault({ kind: 'ok' });
  cheap.setDefault({ kind: 'ok', delayMs: 80 });
});

async function chat(model: string, init: { headers?: Record<string, string>; body?: Record<string, unknown> } = {}) {
  const response = await fetch(`${node.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...init.body }),
  });
  const body = (await response.json()) as { error?: { code?: string; message: string } };
  return { status: response.status, provider: response.headers.get('x-meshgate-provider'), profile: response.headers.get('x-meshgate-profile'), body };
}

describe('strategies over two providers', () => {
  it('ordered (the default) takes the first target', async () => {
    expect((await chat('ordered')).provider).toBe('fastp');
  });

  it('latency measures each target (five answers), then keeps to the fast one', async () => {
    const served: Array<string | null> = [];
    for (let i = 0; i < 14; i++) served.push((await chat('by-latency')).provider);
    expect(served.filter((p) => p === 'cheapp').length).toBeGreaterThanOrEqual(1);
    expect(served.slice(10)).toEqual(['fastp', 'fastp', 'fastp', 'fastp']);
  });

  it('cheapest takes the cheap one', async () => {
    for (let i = 0; i < 3; i++) expect((await chat('by-price')).provider).toBe('cheapp');
  });

  it('weighted splits 3:1 within a tolerance over 120 requests', async () => {
    cheap.setDefault({ kind: 'ok' });
    let toFast = 0;
    for (let i = 0; i < 120; i++) if ((await chat('by-weight')).provider === 'fastp') toFast++;
    expect(toFast / 120).toBeGreaterThan(0.6);
    expect(toFast / 120).toBeLessThan(0.9);
  });

  it('least_busy spreads concurrent requests over both', async () => {
    fast.setDefault({ kind: 'ok', delayMs: 300 });
    cheap.setDefault({ kind: 'ok', delayMs: 300 });
    const results = await Promise.all(Array.from({ length: 10 }, () => chat('by-load')));
    const toFast = results.filter((r) => r.provider === 'fastp').length;
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(toFast).toBeGreaterThanOrEqual(4);
    expect(toFast).toBeLessThanOrEqual(6);
  });
});

describe('profiles', () => {
  it('by header: the cheap profile reorders an ordered group and says so', async () => {
    const result = await chat('ordered', { headers: { 'x-meshgate-profile': 'cheap' } });
    expect([result.provider, result.profile]).toEqual(['cheapp', 'cheap']);
  });

  it('by the meshgate body field, which never reaches the provider', async () => {
    const result = await chat('ordered', { body: { meshgate: { profile: 'cheap' } } });
    expect(result.provider).toBe('cheapp');
    expect(cheap.requests.at(-1)!.body).not.toHaveProperty('meshgate');
  });

  it('by the credential default: a key_map profile and a token profile claim', async () => {
    expect((await chat('ordered', { headers: { authorization: `Bearer ${KEY_CHEAP}` } })).provider).toBe('cheapp');
    const { token } = await node.gateway.access.tokens.mint({ profile: 'cheap' });
    expect((await chat('ordered', { headers: { authorization: `Bearer ${token}` } })).provider).toBe('cheapp');
    // The request's own choice wins over the credential's.
    expect((await chat('ordered', { headers: { authorization: `Bearer ${token}`, 'x-meshgate-profile': 'quality' } })).profile).toBe('quality');
  });

  it('the profile used is kept on the record: in the records API and as a column of /v1/query', async () => {
    const response = await fetch(`${node.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-meshgate-profile': 'cheap' },
      body: JSON.stringify({ model: 'ordered', messages: [{ role: 'user', content: 'which profile?' }] }),
    });
    expect(response.status).toBe(200);
    const id = response.headers.get('x-request-id')!;
    const admin = { authorization: `Bearer ${node.gateway.access.adminKey.secret.reveal()}`, 'content-type': 'application/json' };
    await vi.waitFor(async () => expect(await node.gateway.records.get(id)).toMatchObject({ profile: 'cheap', provider: 'cheapp' }), { timeout: 5_000, interval: 20 });
    const page = (await (await fetch(`${node.url}/v1/records?model=ordered&limit=100`, { headers: admin })).json()) as { data: Array<{ id: string; profile: string | null }> };
    expect(page.data.find((r) => r.id === id)?.profile).toBe('cheap');
    await node.gateway.analytics.ready();
    const sql = await fetch(`${node.url}/v1/query`, { method: 'POST', headers: admin, body: JSON.stringify({ sql: 'SELECT profile FROM records WHERE id = ?', params: [id] }) });
    expect(((await sql.json()) as { rows: unknown[][] }).rows).toEqual([['cheap']]);
    // A plain model with no profile in play records none.
    const plain = await chat('cheap-m');
    expect(plain.profile).toBeNull();
  });

  it('a malformed meshgate field is a 400, not sent upstream', async () => {
    const result = await chat('ordered', { body: { meshgate: { profile: 'cheap', secret_option: true } } });
    expect([result.status, result.body.error?.code]).toEqual([400, 'invalid_request']);
    expect(fast.requests).toHaveLength(0);
  });

  it('an unknown profile is a 400 naming the known ones', async () => {
    const result = await chat('ordered', { headers: { 'x-meshgate-profile': 'nope' } });
    expect(result.status).toBe(400);
    expect(result.body.error?.code).toBe('unknown_profile');
    expect(result.body.error?.message).toContain('balanced');
  });
});

describe('pricing rules of a credential', () => {
  it('max_output_price keeps only targets priced under it', async () => {
    expect((await chat('ordered', { headers: { authorization: `Bearer ${KEY_LOW_PRICE}` } })).provider).toBe('cheapp');
  });

  it('free_only with no free target is a 403 naming each target and its price', async () => {
    const result = await chat('ordered', { headers: { authorization: `Bearer ${KEY_FREE}` } });
    expect(result.status).toBe(403);
    expect(result.body.error?.code).toBe('price_not_allowed');
    expect(result.body.error?.message).toContain('fastp/dear-m');
    expect(fast.requests).toHaveLength(0);
  });
});

describe('context and fallbacks by error class', () => {
  it('a request longer than a target\'s context skips it; longer than all is a 400 saying why', async () => {
    const long = 'word '.repeat(1_000); // about 1,250 tokens: over fastp's 1,000
    const ok = await chat('ordered', { body: { messages: [{ role: 'user', content: long }] } });
    expect(ok.provider).toBe('cheapp');
    const huge = await chat('ordered', { body: { messages: [{ role: 'user', content: 'word '.repeat(100_000) }] } });
    expect(huge.status).toBe(400);
    expect(huge.body.error?.code).toBe('no_eligible_target');
    expect(huge.body.error?.message).toMatch(/context window of 100000/);
  });

  it('a context-window error moves to a target with a larger context', async () => {
    fast.enqueue({ kind: 'error', status: 400, message: "This model's maximum context length is 1000 tokens." });
    const result = await chat('ordered');
    expect([result.status, result.provider]).toEqual([200, 'cheapp']);
  });

  it('a content-policy refusal moves to the configured fallback list', async () => {
    fast.enqueue({ kind: 'error', status: 400, message: 'Your request was rejected by our safety system (content_policy_violation).' });
    const result = await chat('dear-m');
    expect([result.status, result.provider]).toEqual([200, 'cheapp']);
    expect(cheap.requests.at(-1)!.body.model).toBe('cheap-m');
  });

  it('any other 4xx is still the answer', async () => {
    fast.enqueue({ kind: 'error', status: 400, message: 'temperature must be at most 2' });
    const result = await chat('ordered');
    expect(result.status).toBe(400);
    expect(cheap.requests).toHaveLength(0);
  });
});

describe('groups and aliases as clients see them', () => {
  it('an alias routes as its model', async () => {
    const result = await chat('dear-m-2024-11-20');
    expect(result.provider).toBe('fastp');
    expect(fast.requests.at(-1)!.body.model).toBe('dear-m');
  });

  it('GET /v1/models lists groups with their targets and aliases with their model', async () => {
    const { data } = (await (await fetch(`${node.url}/v1/models`)).json()) as { data: Array<Record<string, any>> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const group = data.find((m) => m.id === 'by-latency')!;
    expect(group.group.strategy).toBe('latency');
    expect(group.group.targets.map((t: { provider: string }) => t.provider)).toEqual(['fastp', 'cheapp']);
    expect(group.capabilities).toContain('chat');
    expect(data.find((m) => m.id === 'dear-m-2024-11-20')).toMatchObject({ alias_of: 'dear-m', providers: ['fastp'] });
  });
});

describe('POST /v1/routing/explain', () => {
  const explain = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    fetch(`${node.url}/v1/routing/explain`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${node.gateway.access.adminKey.secret.reveal()}`, ...headers },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
    });

  it('answers each layer (kept, dropped with why, scored) and the plan without calling a provider', async () => {
    const response = await explain({ model: 'ordered', max_tokens: 10 }, { 'x-meshgate-profile': 'cheap' });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(answer).toMatchObject({ requested: 'ordered', group: 'ordered', profile: 'cheap', strategy: 'score' });
    expect(answer.layers.candidates.map((c: { target: string }) => c.target)).toEqual(['fastp/dear-m', 'cheapp/cheap-m']);
    expect(answer.layers.score[0]).toMatchObject({ target: 'cheapp/cheap-m', signals: { price: 1 }, facts: { input_price: 0.1 } });
    expect(answer.plan.map((p: { target: string }) => p.target)).toEqual(['cheapp/cheap-m', 'fastp/dear-m']);
    expect(fast.requests).toHaveLength(0);
    expect(cheap.requests).toHaveLength(0);

    const long = (await (await explain({ model: 'ordered', messages: [{ role: 'user', content: 'word '.repeat(1_000) }] })).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(long.layers.filter.dropped).toEqual([{ target: 'fastp/dear-m', reasons: [expect.objectContaining({ code: 'context_window' })] }]);
  });

  it('says when nothing serves the name', async () => {
    const answer = (await (await explain({ model: 'no-such-model' })).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(answer.plan).toEqual([]);
    expect(answer.refusal).toMatchObject({ status: 404, code: 'model_not_found' });
  });

  it('needs the admin key', async () => {
    const response = await fetch(`${node.url}/v1/routing/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'ordered', messages: [] }) });
    expect(response.status).toBe(401);
  });
});

describe('GET /v1/routing/signals', () => {
  it('answers what the Score layer reads per target: measured success and latency percentiles', async () => {
    for (let i = 0; i < 3; i++) expect((await chat('cheap-m')).status).toBe(200);
    const response = await fetch(`${node.url}/v1/routing/signals`, { headers: { authorization: `Bearer ${node.gateway.access.adminKey.secret.reveal()}` } });
    expect(response.status).toBe(200);
    const { data } = (await response.json()) as { data: Array<{ target: string; provider: string; model: string; samples: number; success_rate: number; duration_ms: { p50: number; p95: number } }> };
    const measured = data.find((t) => t.target === 'cheapp/cheap-m')!;
    const engine = node.gateway.router.stats.signals('cheapp/cheap-m');
    expect(measured).toMatchObject({ provider: 'cheapp', model: 'cheap-m', samples: engine.samples });
    expect(measured.samples).toBeGreaterThanOrEqual(3);
    expect(measured.success_rate).toBeCloseTo(engine.successRate!, 3);
    expect(measured.duration_ms.p50).toBeCloseTo(engine.durationP50!, 3);
    expect(measured.duration_ms.p95).toBeGreaterThanOrEqual(measured.duration_ms.p50);
  });
});
