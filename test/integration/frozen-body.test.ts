import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

/**
 * No step may change a parsed client body in place (src/core/json-text.ts): a node passing a request on unchanged
 * sends the client's own JSON text, looked up by the body object, so an in-place edit — a redaction above all — would
 * leave the old text to be sent to a peer. Here every client body is deep-frozen as it is parsed (the modules run in
 * strict mode, so any write to it throws and the request fails with a 500), and requests that take every path that
 * changes a body go through the real HTTP app: redaction, the `meshgate` field, translation to and from each format,
 * an Azure deployment path, the Responses API, embeddings and token counting, streamed and not.
 */
const MARK = 'frozen-body-guard';

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

describe('a parsed client body is never modified in place', () => {
  let mock: MockUpstream;
  let node: TestGateway;
  const parse = JSON.parse;
  beforeAll(async () => {
    mock = await startMockUpstream();
    const p = mockProviders(mock);
    node = await startTestGateway([p.openai, p.anthropic, p.gemini, p.azure], { sanitization: { enabled: true, scan_credentials: true } });
    // Only the bodies of this file's requests (they carry the mark): what the gateway parses of anything else is its own.
    vi.spyOn(JSON, 'parse').mockImplementation((text: string, reviver?: Parameters<typeof parse>[1]) => {
      const parsed = parse(text, reviver);
      return typeof text === 'string' && text.includes(MARK) ? deepFreeze(parsed) : parsed;
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await node?.close();
    await mock?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  // A credential the sanitizer redacts (a copy of the body is made for it).
  const secret = `${MARK} my key is ghp_${'a1B2c3D4e5'.repeat(3)}abcdef`;
  const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: [{ type: 'text', text: secret }] }], ...extra });

  it.each([
    ['OpenAI chat, same format, redacted, with the meshgate field', '/v1/chat/completions', chat('gpt-4o-mini', { meshgate: {} })],
    ['OpenAI chat, streamed', '/v1/chat/completions', chat('gpt-4o-mini', { stream: true, stream_options: { include_usage: true } })],
    ['OpenAI chat to Anthropic', '/v1/chat/completions', chat('claude-sonnet-4-5', { max_tokens: 50 })],
    ['OpenAI chat to Gemini, streamed', '/v1/chat/completions', chat('gemini-2.5-flash', { stream: true })],
    ['Azure deployment path', '/openai/deployments/gpt-4o-azure/chat/completions?api-version=2024-10-21', { messages: [{ role: 'user', content: secret }] }],
    ['Anthropic messages to OpenAI', '/v1/messages', { model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: secret }] }],
    ['Anthropic messages, streamed', '/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 50, stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: secret }] }] }],
    ['Anthropic count_tokens', '/v1/messages/count_tokens', { model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: secret }] }],
    ['Gemini generateContent to OpenAI', '/v1beta/models/gpt-4o-mini:generateContent', { contents: [{ role: 'user', parts: [{ text: secret }] }] }],
    ['Gemini embedContent', '/v1beta/models/text-embedding-004:embedContent', { content: { parts: [{ text: secret }] } }],
    ['OpenAI embeddings', '/v1/embeddings', { model: 'text-embedding-3-small', input: [secret, MARK] }],
    ['Responses API to chat', '/v1/responses', { model: 'gpt-4o-mini', input: [{ role: 'user', content: [{ type: 'input_text', text: secret }] }], store: false }],
    ['Responses API, streamed to Anthropic', '/v1/responses', { model: 'claude-sonnet-4-5', input: secret, stream: true, store: false }],
  ])('%s', async (_name, path, body) => {
    const res = await post(path, body, path.startsWith('/openai/') ? { 'api-key': 'unused' } : {});
    const text = await res.text();
    expect([res.status, text.includes('Cannot assign') || text.includes('read only') || text.includes('not extensible') ? text : '']).toEqual([200, '']);
    // The redaction ran (it is the step most tempted to edit in place).
    expect(res.headers.get('x-meshgate-sanitized')).toMatch(/GITHUB_TOKEN=/);
  });

  it('would catch a write (the guard itself works)', () => {
    const frozen = JSON.parse(JSON.stringify({ note: MARK, messages: [{ content: 'x' }] })) as { messages: Array<{ content: string }> };
    expect(() => {
      frozen.messages[0]!.content = 'changed';
    }).toThrow(TypeError);
  });
});
