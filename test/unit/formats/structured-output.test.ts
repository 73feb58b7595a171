import { describe, expect, it } from 'vitest';
import { JSON_OUTPUT_TOOL, JSON_VALUE_TOOL, schemaForAnthropic } from '../../../src/formats/anthropic/structured-output.js';
import type { CanonicalRequest, ResponseFormat } from '../../../src/formats/canonical.js';
import { codecs } from '../../../src/formats/index.js';
import type { SSEMessage } from '../../../src/formats/sse.js';
import { collect, fromArray } from './fixtures.js';

const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number' } }, required: ['city', 'temp'], additionalProperties: false };
const request = (overrides: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather?' }] }], stream: false, ...overrides,
});
const jsonSchema: ResponseFormat = { type: 'json_schema', name: 'weather', schema };
const toAnthropic = (overrides: Partial<CanonicalRequest>, model: string, structuredOutputModels?: string[]) =>
  codecs.anthropic.requestFromCanonical(request(overrides), model, { providerType: 'anthropic', structuredOutputModels });

describe('structured output towards Anthropic', () => {
  it('puts a JSON schema in output_config.format for models that take it, with nothing warned', () => {
    const { body, warnings } = toAnthropic({ responseFormat: jsonSchema }, 'claude-sonnet-4-5-20250929');
    expect(body.output_config).toEqual({ format: { type: 'json_schema', schema } });
    expect(body.tools).toBeUndefined();
    expect(warnings).toEqual([]);
  });

  it('forces the answer tool on models without structured outputs', () => {
    const { body, warnings } = toAnthropic({ responseFormat: jsonSchema }, 'claude-3-5-haiku-20241022');
    expect(body.output_config).toBeUndefined();
    expect(body.tools).toEqual([expect.objectContaining({ name: JSON_OUTPUT_TOOL, input_schema: schema })]);
    expect(body.tool_choice).toEqual({ type: 'tool', name: JSON_OUTPUT_TOOL });
    expect(warnings).toEqual([]);
  });

  it('follows the provider\'s structured_output_models list (exact names and prefixes) instead of the default', () => {
    expect(toAnthropic({ responseFormat: jsonSchema }, 'claude-sonnet-4-5', ['my-claude*']).body.output_config).toBeUndefined();
    expect(toAnthropic({ responseFormat: jsonSchema }, 'my-claude-x', ['my-claude*']).body.output_config).toBeDefined();
  });

  it('lets the model choose between the client\'s tools and the answer when the client has tools', () => {
    const tools = [{ name: 'lookup', parameters: { type: 'object', properties: {} } }];
    const { body } = toAnthropic({ responseFormat: jsonSchema, tools }, 'claude-3-haiku-20240307');
    expect((body.tools as Array<{ name: string }>).map((t) => t.name)).toEqual(['lookup', JSON_OUTPUT_TOOL]);
    expect(body.tool_choice).toEqual({ type: 'any' });
  });

  it('serves JSON mode (no schema) through the answer tool with an open object, on every model', () => {
    const { body } = toAnthropic({ responseFormat: { type: 'json_object' } }, 'claude-sonnet-4-5');
    expect(body.tool_choice).toEqual({ type: 'tool', name: JSON_OUTPUT_TOOL });
    expect((body.tools as Array<{ input_schema: unknown }>)[0]!.input_schema).toEqual({ type: 'object', additionalProperties: true });
  });

  it('wraps a schema whose root is not an object in a value tool, and unwraps the answer', () => {
    const list = { type: 'array', items: { type: 'string' } };
    const { body } = toAnthropic({ responseFormat: { type: 'json_schema', name: 'names', schema: list } }, 'claude-3-haiku-20240307');
    expect((body.tools as Array<Record<string, unknown>>)[0]).toMatchObject({ name: JSON_VALUE_TOOL, input_schema: { type: 'object', properties: { value: list }, required: ['value'] } });
    const response = codecs.anthropic.responseToCanonical({
      id: 'msg_1', content: [{ type: 'tool_use', id: 'toolu_1', name: JSON_VALUE_TOOL, input: { value: ['a', 'b'] } }], stop_reason: 'tool_use', usage: { input_tokens: 1, output_tokens: 1 },
    });
    expect(response.content).toEqual([{ type: 'text', text: '["a","b"]' }]);
  });

  it('moves the keywords Anthropic refuses into the description and closes objects', () => {
    expect(schemaForAnthropic({ type: 'object', properties: { age: { type: 'integer', minimum: 0, maximum: 150 }, minimum: { type: 'string', minLength: 2 } } })).toEqual({
      type: 'object',
      properties: { age: { type: 'integer', description: '{minimum: 0, maximum: 150}' }, minimum: { type: 'string', description: '{minLength: 2}' } },
      additionalProperties: false,
    });
  });

  it('returns the answer tool\'s input as the message text, stopped normally', () => {
    const response = codecs.anthropic.responseToCanonical({
      id: 'msg_1', content: [{ type: 'tool_use', id: 'toolu_1', name: JSON_OUTPUT_TOOL, input: { city: 'Oslo', temp: 3 } }], stop_reason: 'tool_use', usage: { input_tokens: 5, output_tokens: 9 },
    });
    expect(response.content).toEqual([{ type: 'text', text: '{"city":"Oslo","temp":3}' }]);
    expect(response.stopReason).toBe('stop');
    expect(codecs.openai.responseFromCanonical(response)).toMatchObject({ choices: [{ message: { content: '{"city":"Oslo","temp":3}' }, finish_reason: 'stop' }] });
  });

  it('streams the answer tool\'s input deltas as text deltas', async () => {
    const events = [
      { type: 'message_start', message: { id: 'msg_1', model: 'claude-3-haiku', usage: { input_tokens: 5, output_tokens: 1 } } },
      { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: JSON_OUTPUT_TOOL, input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"city": "Os' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: 'lo", "temp": 3}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } },
      { type: 'message_stop' },
    ];
    const messages = fromArray(events.map((e) => ({ event: e.type, data: JSON.stringify(e) }) as SSEMessage));
    const decoded = await collect(codecs.anthropic.decodeStream(messages));
    expect(decoded.filter((e) => e.type === 'text_delta')).toEqual([{ type: 'text_delta', text: '{"city": "Os' }, { type: 'text_delta', text: 'lo", "temp": 3}' }]);
    expect(decoded.some((e) => e.type.startsWith('tool_call'))).toBe(false);
    expect(decoded.at(-1)).toMatchObject({ type: 'finish', stopReason: 'stop' });
  });
});

describe('structured output from Anthropic clients', () => {
  const anthropicBody = (extra: Record<string, unknown>) => ({ model: 'gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'Weather?' }], ...extra });

  it.each([
    ['output_config.format', { output_config: { format: { type: 'json_schema', schema } } }],
    ['output_format (beta)', { output_format: { type: 'json_schema', schema } }],
  ])('reads %s as the canonical response format, and OpenAI and Gemini get it', (_name, extra) => {
    const canonical = codecs.anthropic.requestToCanonical(anthropicBody(extra));
    expect(canonical.responseFormat).toEqual({ type: 'json_schema', name: 'response', schema });
    expect(canonical.warnings).toEqual([]);
    expect(codecs.openai.requestFromCanonical(canonical, 'gpt-4o').body.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'response', schema } });
    expect(codecs.gemini.requestFromCanonical(canonical, 'gemini-2.5-flash').body.generationConfig).toEqual({ maxOutputTokens: 100, responseMimeType: 'application/json', responseJsonSchema: schema });
  });

  it('names output_config fields and output formats it cannot carry, without refusing them', () => {
    expect(codecs.anthropic.requestToCanonical(anthropicBody({ output_config: { task_budget: 5 } })).warnings).toEqual(['output_config.task_budget']);
    expect(codecs.anthropic.requestToCanonical(anthropicBody({ output_config: { format: { type: 'regex', pattern: 'a+' } } })).warnings).toEqual(['output_config.format']);
    expect(codecs.anthropic.requestToCanonical(anthropicBody({ output_format: { type: 'grammar' } })).warnings).toEqual(['output_format']);
  });
});

describe('OpenAI response_format to Gemini', () => {
  it('maps json_schema to responseMimeType + responseJsonSchema and json_object to responseMimeType', () => {
    const openai = (response_format: unknown) => codecs.openai.requestToCanonical({ model: 'g', messages: [{ role: 'user', content: 'x' }], response_format });
    expect(codecs.gemini.requestFromCanonical(openai({ type: 'json_schema', json_schema: { name: 'w', schema, strict: true } }), 'g').body.generationConfig)
      .toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema });
    expect(codecs.gemini.requestFromCanonical(openai({ type: 'json_object' }), 'g').body.generationConfig).toEqual({ responseMimeType: 'application/json' });
  });
});
