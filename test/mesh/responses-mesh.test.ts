import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { TEST_KEY, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * Responses requests across two real gateways on libp2p: A serves no model itself, B serves gpt-4o (an OpenAI
 * Responses provider: pass-through on B) and claude (translated on B). A keeps the stored responses of its clients and
 * rebuilds `previous_response_id` before forwarding, so B sees a whole, self-contained request.
 */
const mesh = (extra: Record<string, unknown> = {}) => ({ enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], heartbeat_ms: 1_000, dht_timeout_ms: 3_000, ...extra });

let upstreamB: MockUpstream;
let a: TestGateway;
let b: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstreamB = await startMockUpstream();
  b = await startTestGateway([
    { id: 'b-openai', type: 'openai', base_url: upstreamB.openaiBaseUrl, api_key: TEST_KEY, models: ['gpt-4o'], max_retries: 0 },
    { id: 'b-claude', type: 'anthropic', base_url: upstreamB.anthropicBaseUrl, api_key: TEST_KEY, models: ['claude-sonnet-4-5'], max_retries: 0 },
  ], { mesh: mesh() });
  a = await startTestGateway([], { mesh: mesh({ bootstrap: b.gateway.mesh!.multiaddrs() }) });
  client = new OpenAI({ baseURL: `${a.url}/v1`, apiKey: 'x', maxRetries: 0 });
  // Bounded: until A knows B's models.
  await vi.waitFor(() => {
    if (!a.gateway.mesh!.knownModels().get('claude-sonnet-4-5')?.length) throw new Error('peer models not known yet');
  }, { timeout: 15_000, interval: 100 });
}, 60_000);

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await upstreamB?.close();
});

describe('a Responses request forwarded to a peer', () => {
  it.each(['gpt-4o', 'claude-sonnet-4-5'])('answers %s plain and streamed, served by the peer', async (model) => {
    upstreamB.reset();
    const { data, response } = await client.responses.create({ model, input: 'across the mesh' }).withResponse();
    expect(data.output_text).toContain('says: across the mesh');
    expect(response.headers.get('x-meshgate-served-by')).toBe(b.gateway.mesh!.peerId);
    expect(upstreamB.requests.at(-1)!.path).toBe(model === 'gpt-4o' ? '/v1/responses' : '/v1/messages');

    const stream = client.responses.stream({ model, input: 'streamed across' });
    const final = await stream.finalResponse();
    expect(final.output_text).toContain('says: streamed across');
    expect(final.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('continues a stored conversation through the peer: the node rebuilds it before forwarding', async () => {
    upstreamB.reset();
    const first = await client.responses.create({ model: 'gpt-4o', input: 'my name is Ada' });
    const second = await client.responses.create({ model: 'claude-sonnet-4-5', previous_response_id: first.id, input: 'what is my name?' });
    expect(second.output_text).toContain('says: what is my name?');
    const messages = upstreamB.requests.at(-1)!.body.messages;
    expect(messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(messages[1])).toContain(first.output_text);
    // Stored where the client asked, not on the peer that served it.
    expect((await client.responses.retrieve(second.id)).previous_response_id).toBe(first.id);
    await expect(new OpenAI({ baseURL: `${b.url}/v1`, apiKey: 'x', maxRetries: 0 }).responses.retrieve(second.id)).rejects.toMatchObject({ status: 404 });
  });

  it('is recorded with the peer and its usage, and paid for with an acknowledged receipt', async () => {
    const before = a.outcomes.length;
    await client.responses.create({ model: 'claude-sonnet-4-5', input: 'who pays?' });
    const [outcome] = (await a.waitForOutcomes(before + 1)).slice(before);
    expect(outcome).toMatchObject({ format: 'responses', peer: b.gateway.mesh!.peerId, status: 200 });
    expect(outcome!.usage!.outputTokens).toBeGreaterThan(0);
    await expect.poll(async () => (await a.gateway.ledger!.summary()).find((p) => p.peer === b.gateway.mesh!.peerId)?.consumed.receipts ?? 0, { timeout: 10_000, interval: 100 })
      .toBeGreaterThanOrEqual(1);
    const served = await b.gateway.ledger!.summary();
    expect(served.find((p) => p.peer === a.gateway.mesh!.peerId)?.served.receipts ?? 0).toBeGreaterThanOrEqual(1);
    expect((await a.gateway.ledger!.summary()).every((p) => p.disputes === 0)).toBe(true);
  });
});
