import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CanonicalRequest, CanonicalResponse, StreamEvent } from '../../../src/formats/canonical.js';
import { codecs } from '../../../src/formats/index.js';
import { REASONING_BUDGETS, effortForBudget, reasoningBudget, reasoningEffort } from '../../../src/formats/reasoning.js';
import { collect, fromArray } from './fixtures.js';

const request = (overrides: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'Think.' }] }], stream: false, ...overrides,
});

describe('the reasoning table', () => {
  it('maps every effort to its budget and each budget back to the smallest effort covering it', () => {
    for (const [effort, budget] of Object.entries(REASONING_BUDGETS)) {
      expect(reasoningBudget({ effort: effort as keyof typeof REASONING_BUDGETS })).toBe(budget);
      expect(effortForBudget(budget)).toBe(effort);
    }
    expect(effortForBudget(3_000)).toBe('medium');
    expect(effortForBudget(100_000)).toBe('high');
  });

  it('treats "disabled" as none and "enabled" without a level as medium', () => {
    expect(reasoningEffort({ enabled: false })).toBe('none');
    expect(reasoningBudget({ enabled: false })).toBe(0);
    expect(reasoningEffort({ enabled: true })).toBe('medium');
    expect(reasoningEffort(undefined)).toBeUndefined();
  });
});

describe('reasoning requests across formats', () => {
  const openaiBody = (extra: Record<string, unknown>) => ({ model: 'x', messages: [{ role: 'user', content: 'hi' }], ...extra });

  it('OpenAI reasoning_effort → Anthropic thinking budget (max_tokens raised above it) and Gemini thinkingConfig', () => {
    const canonical = codecs.openai.requestToCanonical(openaiBody({ reasoning_effort: 'low' }));
    expect(canonical.reasoning).toEqual({ effort: 'low', includeText: true });
    expect(canonical.warnings).toEqual([]);
    const anthropic = codecs.anthropic.requestFromCanonical(canonical, 'claude-sonnet-4-5');
    expect(anthropic.body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2_048 }, max_tokens: 4_096 + 2_048 });
    expect(codecs.gemini.requestFromCanonical(canonical, 'gemini-2.5-flash').body.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 2_048, includeThoughts: true } });
  });

  it('Anthropic thinking → OpenAI reasoning_effort for reasoning models only (named for others), Gemini budget as given', () => {
    const canonical = codecs.anthropic.requestToCanonical({ model: 'x', max_tokens: 20_000, thinking: { type: 'enabled', budget_tokens: 10_000 }, messages: [{ role: 'user', content: 'hi' }] });
    expect(canonical.reasoning).toEqual({ enabled: true, includeText: true, budgetTokens: 10_000 });
    expect(canonical.warnings).toEqual([]);
    expect(codecs.openai.requestFromCanonical(canonical, 'o4-mini', { providerType: 'openai' }).body.reasoning_effort).toBe('high');
    const plain = codecs.openai.requestFromCanonical(canonical, 'gpt-4o', { providerType: 'openai' });
    expect(plain.body.reasoning_effort).toBeUndefined();
    expect(plain.warnings).toEqual(['reasoning (this model takes no reasoning_effort)']);
    expect(codecs.openai.requestFromCanonical(canonical, 'deepseek-r1', { providerType: 'openai_compatible' }).body.reasoning_effort).toBe('high');
    expect(codecs.gemini.requestFromCanonical(canonical, 'g').body.generationConfig).toMatchObject({ thinkingConfig: { thinkingBudget: 10_000, includeThoughts: true } });
  });

  it('names reasoning values newer than the table instead of refusing them (a same-format provider may take them)', () => {
    const openai = codecs.openai.requestToCanonical(openaiBody({ reasoning_effort: 'ultra' }));
    expect(openai.reasoning).toBeUndefined();
    expect(openai.warnings).toEqual(['reasoning_effort']);
    const anthropic = codecs.anthropic.requestToCanonical({ model: 'x', max_tokens: 10, thinking: { type: 'telepathic' }, output_config: { effort: 'extreme' }, messages: [{ role: 'user', content: 'hi' }] });
    expect(anthropic.reasoning).toBeUndefined();
    expect(anthropic.warnings).toEqual(['output_config.effort', 'thinking']);
  });

  it('OpenAI reasoning models get the nearest effort they take (gpt-5.1 none, gpt-5 minimal, o-series low), named', () => {
    const off = request({ reasoning: { enabled: false } });
    const sent = (model: string) => codecs.openai.requestFromCanonical(off, model, { providerType: 'openai' });
    expect(sent('gpt-5.1').body.reasoning_effort).toBe('none');
    expect(sent('gpt-5.1').warnings).toEqual([]);
    expect(sent('gpt-5-mini').body.reasoning_effort).toBe('minimal');
    expect(sent('o3').body.reasoning_effort).toBe('low');
    expect(sent('o3').warnings).toEqual(['reasoning (none → low, the lowest effort this model takes)']);
    expect(sent('gpt-4o').body.reasoning_effort).toBeUndefined();
    expect(sent('gpt-4o').warnings).toEqual([]);
  });

  it('Gemini thinkingConfig → canonical: budget 0 is off, thinkingLevel is an effort, -1 is "think"', () => {
    const gemini = (thinkingConfig: Record<string, unknown>) =>
      codecs.gemini.requestToCanonical({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }], generationConfig: { thinkingConfig } }, { model: 'g' }).reasoning;
    expect(gemini({ thinkingBudget: 0 })).toEqual({ enabled: false });
    expect(gemini({ thinkingLevel: 'HIGH', includeThoughts: true })).toEqual({ effort: 'high', includeText: true });
    expect(gemini({ thinkingBudget: -1 })).toEqual({ enabled: true });
    expect(gemini({ thinkingBudget: 512 })).toEqual({ budgetTokens: 512 });
  });

  it('Anthropic: a client max_tokens caps the budget; too small a limit or a forced tool drops thinking, named', () => {
    const capped = codecs.anthropic.requestFromCanonical(request({ reasoning: { effort: 'high' }, maxTokens: 5_000 }), 'claude');
    expect(capped.body).toMatchObject({ max_tokens: 5_000, thinking: { type: 'enabled', budget_tokens: 4_999 } });
    const small = codecs.anthropic.requestFromCanonical(request({ reasoning: { effort: 'high' }, maxTokens: 500 }), 'claude');
    expect(small.body.thinking).toBeUndefined();
    expect(small.warnings).toEqual([expect.stringContaining('thinking minimum')]);
    const forced = codecs.anthropic.requestFromCanonical(request({ reasoning: { effort: 'low' }, tools: [{ name: 't', parameters: { type: 'object' } }], toolChoice: { type: 'required' } }), 'claude');
    expect(forced.body.thinking).toBeUndefined();
    expect(forced.warnings).toEqual(['reasoning (Anthropic cannot think with a forced tool choice)']);
  });

  it('Anthropic: a tool result answering a call without its signed thinking block is sent without thinking, named', () => {
    const call = { type: 'tool_call' as const, id: 'call_1', name: 't', arguments: '{}' };
    const messages: CanonicalRequest['messages'] = [
      { role: 'user', content: [{ type: 'text', text: 'go' }] },
      { role: 'assistant', content: [call] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1', content: [{ type: 'text', text: 'done' }] }] },
    ];
    const unsigned = codecs.anthropic.requestFromCanonical(request({ messages, reasoning: { effort: 'low' } }), 'claude');
    expect(unsigned.body.thinking).toBeUndefined();
    expect(unsigned.warnings).toEqual(['reasoning (the tool call being answered came without its thinking block)']);
    messages[1] = { role: 'assistant', content: [{ type: 'reasoning', text: 'plan', signature: 'sig' }, call] };
    expect(codecs.anthropic.requestFromCanonical(request({ messages, reasoning: { effort: 'low' } }), 'claude').body.thinking).toEqual({ type: 'enabled', budget_tokens: 2_048 });
  });

  it('Anthropic: temperature and top_k are dropped with thinking (named); disabled reasoning is thinking disabled', () => {
    const { body, warnings } = codecs.anthropic.requestFromCanonical(request({ reasoning: { effort: 'low' }, temperature: 0.2, topK: 5 }), 'claude');
    expect(body.temperature).toBeUndefined();
    expect(body.top_k).toBeUndefined();
    expect(warnings).toEqual(['temperature (Anthropic takes none with thinking)', 'top_k (Anthropic takes none with thinking)']);
    expect(codecs.anthropic.requestFromCanonical(request({ reasoning: { enabled: false } }), 'claude').body.thinking).toEqual({ type: 'disabled' });
  });
});

describe('reasoning text back to the client', () => {
  const response: CanonicalResponse = {
    id: 'r1', model: 'm', stopReason: 'stop', usage: { inputTokens: 3, outputTokens: 20, reasoningTokens: 12 },
    content: [{ type: 'reasoning', text: 'Let me think.' }, { type: 'text', text: '42' }],
  };

  it('OpenAI clients get reasoning_content and reasoning tokens, Anthropic clients a thinking block, Gemini clients a thought', () => {
    expect(codecs.openai.responseFromCanonical(response)).toMatchObject({
      choices: [{ message: { content: '42', reasoning_content: 'Let me think.' } }],
      usage: { completion_tokens: 20, completion_tokens_details: { reasoning_tokens: 12 } },
    });
    expect(codecs.anthropic.responseFromCanonical(response)).toMatchObject({ content: [{ type: 'thinking', thinking: 'Let me think.' }, { type: 'text', text: '42' }] });
    expect(codecs.gemini.responseFromCanonical(response)).toMatchObject({
      candidates: [{ content: { parts: [{ text: 'Let me think.', thought: true }, { text: '42' }] } }], usageMetadata: { thoughtsTokenCount: 12, candidatesTokenCount: 8 },
    });
  });

  it('OpenAI streams carry reasoning deltas as reasoning_content', async () => {
    const events: StreamEvent[] = [
      { type: 'start', id: 'r1', model: 'm' }, { type: 'reasoning_delta', text: 'Hmm.' }, { type: 'text_delta', text: '42' },
      { type: 'finish', stopReason: 'stop', usage: { inputTokens: 1, outputTokens: 2 } },
    ];
    const frames = await collect(codecs.openai.encodeStream(fromArray(events), { includeUsage: false }));
    expect(frames.map((f) => (f.startsWith('data: {') ? JSON.parse(f.slice(6)).choices[0]?.delta : f))).toEqual([
      { role: 'assistant', content: '', refusal: null }, { reasoning_content: 'Hmm.' }, { content: '42' }, {}, 'data: [DONE]\n\n',
    ]);
  });

  it('OpenAI-compatible reasoning in a whole response becomes reasoning', () => {
    const canonical = codecs.openai.responseToCanonical({ id: 'c', model: 'deepseek-reasoner', choices: [{ message: { content: '42', reasoning_content: 'Hmm.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 9, completion_tokens_details: { reasoning_tokens: 5 } } });
    expect(canonical.content).toEqual([{ type: 'reasoning', text: 'Hmm.' }, { type: 'text', text: '42' }]);
    expect(canonical.usage.reasoningTokens).toBe(5);
  });
});

describe('the README', () => {
  it('shows the reasoning table the code uses', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('#### Reasoning');
    const section = readme.slice(start, readme.indexOf('\n#', start + 1));
    const rows = [...section.matchAll(/^\| `(\w+)` \| (\d+)/gm)].map((m) => [m[1], Number(m[2])]);
    expect(Object.fromEntries(rows)).toEqual(REASONING_BUDGETS);
  });
});
