import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { mockAndNode, mockProviders } from '../helpers/gateway.js';
import { bedrockProvider, CLOUD_MODELS } from '../helpers/cloud-providers.js';

/** Claude on Bedrock that takes extended thinking (the helper's own Bedrock model is Claude 3.5, which does not). */
const CLAUDE_4 = { client: 'claude-4-on-bedrock', upstream: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0' };

const ctx = mockAndNode((mock) => {
  const p = mockProviders(mock);
  return [
    { ...p.openai, models: ['gpt-4o', 'o4-mini'] }, p.anthropic, p.gemini,
    bedrockProvider(mock, { model_map: { [CLOUD_MODELS.bedrock.client]: CLOUD_MODELS.bedrock.upstream, [CLAUDE_4.client]: CLAUDE_4.upstream } }),
  ];
});
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(() => {
  openai = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: ctx.node.url, apiKey: 'unused', maxRetries: 0 });
});

/** `reasoning_content`: not in the openai SDK's types, read by OpenAI-compatible clients. */
type WithReasoning = { reasoning_content?: string };

describe('reasoning across formats, with real clients', () => {
  it.each([
    ['claude-sonnet-4-5', (body: Record<string, any>) => expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 2_048 })], // eslint-disable-line @typescript-eslint/no-explicit-any
    ['gemini-2.5-flash', (body: Record<string, any>) => expect(body.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 2_048, includeThoughts: true })], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])('openai SDK reasoning_effort on %s: the provider is asked to think, the text comes back as reasoning_content', async (model, sent) => {
    ctx.mock.reset();
    const completion = await openai.chat.completions.create({ model, reasoning_effort: 'low', messages: [{ role: 'user', content: 'why is the sky blue' }] });
    sent(ctx.mock.requests.at(-1)!.body);
    expect((completion.choices[0]!.message as WithReasoning).reasoning_content).toBe('Thinking about: why is the sky blue');
    expect(completion.choices[0]!.message.content).toContain('says: why is the sky blue');

    const stream = await openai.chat.completions.create({ model, reasoning_effort: 'low', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'why is the sky blue' }] });
    let reasoning = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      reasoning += (chunk.choices[0]?.delta as WithReasoning | undefined)?.reasoning_content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(reasoning).toBe('Thinking about: why is the sky blue');
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('reasoning tokens a provider reports are in the client\'s usage and in the outcome that records and costs are made from', async () => {
    ctx.node.outcomes.length = 0;
    const completion = await openai.chat.completions.create({ model: 'gemini-2.5-flash', reasoning_effort: 'high', messages: [{ role: 'user', content: 'think hard' }] });
    const reasoningTokens = completion.usage!.completion_tokens_details!.reasoning_tokens!;
    expect(reasoningTokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(reasoningTokens);
    const [outcome] = await ctx.node.waitForOutcomes(1);
    expect(outcome!.usage).toMatchObject({ reasoningTokens, outputTokens: completion.usage!.completion_tokens });
  });

  it('Anthropic SDK thinking on Gemini: thinking blocks streamed back, budget passed as the thinking budget', async () => {
    ctx.mock.reset();
    const stream = anthropic.messages.stream({ model: 'gemini-2.5-flash', max_tokens: 20_000, thinking: { type: 'enabled', budget_tokens: 10_000 }, messages: [{ role: 'user', content: 'plan a trip' }] });
    const thinking: string[] = [];
    stream.on('thinking', (delta) => thinking.push(delta));
    const message = await stream.finalMessage();
    expect(ctx.mock.requests.at(-1)!.body.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 10_000, includeThoughts: true });
    expect(thinking.join('')).toBe('Thinking about: plan a trip');
    expect(message.content.map((b) => b.type)).toEqual(['thinking', 'text']);
  });

  it('Anthropic SDK thinking on OpenAI: reasoning_effort for a reasoning model, named in the warnings for another', async () => {
    ctx.mock.reset();
    const thinking = { type: 'enabled' as const, budget_tokens: 3_000 };
    await anthropic.messages.create({ model: 'o4-mini', max_tokens: 8_000, thinking, messages: [{ role: 'user', content: 'hi' }] });
    expect(ctx.mock.requests.at(-1)!.body.reasoning_effort).toBe('medium');
    const { response } = await anthropic.messages.create({ model: 'gpt-4o', max_tokens: 8_000, thinking, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(ctx.mock.requests.at(-1)!.body.reasoning_effort).toBeUndefined();
    expect(response.headers.get('x-meshgate-warnings')).toBe('reasoning (this model takes no reasoning_effort)');
  });

  it('Gemini thinkingConfig on Claude: thought parts back, thinking budget from the table', async () => {
    ctx.mock.reset();
    const response = await fetch(`${ctx.node.url}/v1beta/models/claude-sonnet-4-5:generateContent`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'reason' }] }], generationConfig: { thinkingConfig: { thinkingLevel: 'high', includeThoughts: true } } }),
    });
    const body = (await response.json()) as { candidates: Array<{ content: { parts: Array<{ text: string; thought?: boolean }> } }> };
    expect(ctx.mock.requests.at(-1)!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 24_576 });
    expect(body.candidates[0]!.content.parts[0]).toEqual({ text: 'Thinking about: reason', thought: true });
  });
});

describe('reasoning text only where the client wants it', () => {
  const ask = (stream: boolean) => fetch(`${ctx.node.url}/v1beta/models/claude-sonnet-4-5:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'quietly' }] }], generationConfig: { thinkingConfig: { thinkingBudget: 2_048 } } }),
  });

  it('a Gemini client that asks for thinking without includeThoughts gets no thought parts, streamed or not', async () => {
    const whole = (await (await ask(false)).json()) as { candidates: Array<{ content: { parts: Array<{ thought?: boolean }> } }> };
    expect(ctx.mock.requests.at(-1)!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 2_048 });
    expect(whole.candidates[0]!.content.parts.some((p) => p.thought)).toBe(false);
    const streamed = await (await ask(true)).text();
    expect(streamed).toContain(' quietly');
    expect(streamed).not.toContain('"thought":true');
  });
});

describe('reasoning towards Anthropic stays within what Anthropic accepts', () => {
  it('a tool loop from an OpenAI client with reasoning_effort: the next turn goes without thinking (named), not refused', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { input: { type: 'string' } } } } }];
    const first = await openai.chat.completions.create({ model: 'claude-sonnet-4-5', reasoning_effort: 'low', temperature: 0.3, tools, messages: [{ role: 'user', content: 'look it up' }] });
    const call = first.choices[0]!.message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(ctx.mock.requests.at(-1)!.body.thinking).toEqual({ type: 'enabled', budget_tokens: 2_048 });
    const { data, response } = await openai.chat.completions.create({
      model: 'claude-sonnet-4-5', reasoning_effort: 'low', tools,
      messages: [{ role: 'user', content: 'look it up' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: 'found it' }],
    }).withResponse();
    expect(data.choices[0]!.message.content).toContain('tool result was: found it');
    expect(response.headers.get('x-meshgate-warnings')).toBe('reasoning (the tool call being answered came without its thinking block)');
  });
});

/**
 * Claude's extended thinking on Bedrock (Converse `additionalModelRequestFields.thinking`, `reasoningContent` blocks
 * and stream deltas) from every client format.
 */
const lastBody = () => ctx.mock.requests.at(-1)!.body;

describe('Claude on Bedrock thinks when a client asks, in its own format', () => {
  it('OpenAI SDK reasoning_effort: thinking with the table\'s budget, maxTokens above it, reasoning_content back (streamed and not)', async () => {
    ctx.mock.reset();
    const completion = await openai.chat.completions.create({ model: CLAUDE_4.client, reasoning_effort: 'low', messages: [{ role: 'user', content: 'why is the sky blue' }] });
    expect(lastBody().additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2_048 } });
    expect(lastBody().inferenceConfig.maxTokens).toBe(4_096 + 2_048);
    expect((completion.choices[0]!.message as WithReasoning).reasoning_content).toBe('Thinking about: why is the sky blue');
    expect(completion.choices[0]!.message.content).toContain('says: why is the sky blue');

    const stream = await openai.chat.completions.create({ model: CLAUDE_4.client, reasoning_effort: 'low', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'why is the sky blue' }] });
    let reasoning = '';
    let text = '';
    for await (const chunk of stream) {
      reasoning += (chunk.choices[0]?.delta as WithReasoning | undefined)?.reasoning_content ?? '';
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(reasoning).toBe('Thinking about: why is the sky blue');
    expect(text).toContain('says: why is the sky blue');
  });

  it('Anthropic SDK thinking: the budget as given, thinking blocks streamed back with their signature', async () => {
    ctx.mock.reset();
    const stream = anthropic.messages.stream({ model: CLAUDE_4.client, max_tokens: 12_000, thinking: { type: 'enabled', budget_tokens: 5_000 }, messages: [{ role: 'user', content: 'plan a trip' }] });
    const thinking: string[] = [];
    stream.on('thinking', (delta) => thinking.push(delta));
    const message = await stream.finalMessage();
    expect(lastBody().additionalModelRequestFields.thinking).toEqual({ type: 'enabled', budget_tokens: 5_000 });
    expect(lastBody().inferenceConfig.maxTokens).toBe(12_000);
    expect(thinking.join('')).toBe('Thinking about: plan a trip');
    expect(message.content[0]).toMatchObject({ type: 'thinking', thinking: 'Thinking about: plan a trip', signature: 'mock-signature' });
    expect(message.content[1]).toMatchObject({ type: 'text' });
  });

  it('a tool loop replays the signed thinking as reasoningContent, so the next turn thinks too', async () => {
    ctx.mock.reset();
    const tools: Anthropic.Tool[] = [{ name: 'lookup', input_schema: { type: 'object', properties: { input: { type: 'string' } } } }];
    const thinking = { type: 'enabled' as const, budget_tokens: 2_000 };
    const first = await anthropic.messages.create({ model: CLAUDE_4.client, max_tokens: 8_000, thinking, tools, messages: [{ role: 'user', content: 'look it up' }] });
    const call = first.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(first.content[0]!.type).toBe('thinking');
    const { data, response } = await anthropic.messages.create({
      model: CLAUDE_4.client, max_tokens: 8_000, thinking, tools,
      messages: [{ role: 'user', content: 'look it up' }, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'found it' }] }],
    }).withResponse();
    const replayed = lastBody().messages[1].content;
    expect(replayed[0]).toEqual({ reasoningContent: { reasoningText: { text: 'Thinking about: look it up', signature: 'mock-signature' } } });
    expect(replayed[1].toolUse).toMatchObject({ name: 'lookup' });
    expect(lastBody().additionalModelRequestFields.thinking).toEqual({ type: 'enabled', budget_tokens: 2_000 });
    expect(response.headers.get('x-meshgate-warnings')).toBeNull();
    expect(data.content.find((b) => b.type === 'text')).toMatchObject({ text: expect.stringContaining('tool result was: found it') });
  });

  it('Gemini thinkingConfig with includeThoughts: thought parts back', async () => {
    ctx.mock.reset();
    const response = await fetch(`${ctx.node.url}/v1beta/models/${CLAUDE_4.client}:generateContent`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'reason' }] }], generationConfig: { thinkingConfig: { thinkingLevel: 'high', includeThoughts: true } } }),
    });
    const body = (await response.json()) as { candidates: Array<{ content: { parts: Array<{ text: string; thought?: boolean }> } }> };
    expect(lastBody().additionalModelRequestFields.thinking).toEqual({ type: 'enabled', budget_tokens: 24_576 });
    expect(body.candidates[0]!.content.parts[0]).toEqual({ text: 'Thinking about: reason', thought: true });
  });

  it('Responses API reasoning with a summary: a reasoning item with the thinking as its summary', async () => {
    ctx.mock.reset();
    const response = await openai.responses.create({ model: CLAUDE_4.client, reasoning: { effort: 'medium', summary: 'auto' }, input: 'summarise' });
    expect(lastBody().additionalModelRequestFields.thinking).toEqual({ type: 'enabled', budget_tokens: 8_192 });
    const item = response.output.find((o) => o.type === 'reasoning') as OpenAI.Responses.ResponseReasoningItem | undefined;
    expect(item?.summary[0]).toMatchObject({ type: 'summary_text', text: 'Thinking about: summarise' });
    expect(response.output_text).toContain('says: summarise');
  });
});

describe('what Bedrock would refuse is not sent', () => {
  it('temperature goes (named) with thinking; a model without thinking gets none (named), and is not refused', async () => {
    ctx.mock.reset();
    const { response } = await openai.chat.completions.create({ model: CLAUDE_4.client, reasoning_effort: 'low', temperature: 0.2, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(response.status).toBe(200);
    expect(lastBody().inferenceConfig.temperature).toBeUndefined();
    expect(response.headers.get('x-meshgate-warnings')).toBe('temperature (Claude takes none with thinking)');

    const old = await openai.chat.completions.create({ model: CLOUD_MODELS.bedrock.client, reasoning_effort: 'low', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(old.response.status).toBe(200);
    expect(lastBody().additionalModelRequestFields).toBeUndefined();
    expect(old.response.headers.get('x-meshgate-warnings')).toBe('reasoning (this Bedrock model takes no extended thinking)');
  });

  it('max_tokens below the thinking minimum: sent without thinking, named', async () => {
    ctx.mock.reset();
    const { response } = await anthropic.messages.create({ model: CLAUDE_4.client, max_tokens: 500, thinking: { type: 'enabled', budget_tokens: 1_024 }, messages: [{ role: 'user', content: 'short' }] }).withResponse();
    expect(response.status).toBe(200);
    expect(lastBody().additionalModelRequestFields).toBeUndefined();
    expect(response.headers.get('x-meshgate-warnings')).toBe('reasoning (max_tokens is below Claude\'s 1024-token thinking minimum)');
  });
});
