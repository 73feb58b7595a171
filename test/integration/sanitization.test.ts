import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { mockProviders, startTestGateway, type TestGateway } from '../helpers/gateway.js';

interface Case { detector: string; text: string; secret: string | null }
const secrets = (JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/sanitize/corpus.json'), 'utf8')) as Case[])
  .filter((c): c is Case & { secret: string } => c.secret !== null);

let mock: MockUpstream;
let node: TestGateway;
let gated: TestGateway;

beforeAll(async () => {
  mock = await startMockUpstream();
  const p = mockProviders(mock);
  node = await startTestGateway([p.openai, p.anthropic, p.gemini], { sanitization: { redact_pii: true } });
  gated = await startTestGateway([p.openai], { sanitization: { compliance_gate: true } });
});

afterAll(async () => {
  await node?.close();
  await gated?.close();
  await mock?.close();
});

describe('sanitization end to end', () => {
  it('no corpus secret ever reaches an upstream, whichever client format and provider', async () => {
    mock.reset();
    const openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: node.url, apiKey: 'x', maxRetries: 0 });
    const all = secrets.map((c) => c.text).join('\n');
    for (const model of ['gpt-4o', 'claude-sonnet-4-5', 'gemini-2.5-flash']) {
      const { response } = await openai.chat.completions.create({ model, messages: [{ role: 'system', content: all }, { role: 'user', content: all }] }).withResponse();
      expect(response.headers.get('x-meshgate-sanitized')).toContain('OPENAI_API_KEY=');
      await anthropic.messages.create({ model, max_tokens: 20, system: all, messages: [{ role: 'user', content: [{ type: 'text', text: all }] }] });
      const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: all }] });
      for await (const _chunk of stream) { /* drain */ }
    }
    expect(mock.requests.length).toBe(9);
    const received = JSON.stringify(mock.requests.map((r) => r.body));
    for (const c of secrets) expect(received, `${c.detector} leaked`).not.toContain(c.secret);
    expect(received).toContain('[REDACTED:ANTHROPIC_API_KEY]');
  });

  it('refuses with 403 under the compliance gate, in each client format, naming types only', async () => {
    mock.reset();
    const key = secrets.find((c) => c.detector === 'GITHUB_TOKEN')!.secret;
    const openai = new OpenAI({ baseURL: `${gated.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const error = await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: `deploy with ${key}` }] }).catch((e) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(error.message).toContain('GITHUB_TOKEN');
    expect(error.message).not.toContain(key);
    const res = await fetch(`${gated.url}/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: key }] }),
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { type: string; error: { type: string } };
    expect(body).toMatchObject({ type: 'error', error: { type: 'permission_error' } });
    expect(mock.requests).toHaveLength(0);
    const outcomes = await gated.waitForOutcomes(2);
    expect(outcomes.at(-1)!.findings).toEqual([{ type: 'GITHUB_TOKEN', location: 'messages[0].content', action: 'blocked' }]);
  });
});
