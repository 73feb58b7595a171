import { describe, expect, it } from 'vitest';
import type { CanonicalMessage, CanonicalRequest } from '../../../../src/formats/canonical.js';
import { GatewayError } from '../../../../src/errors/index.js';
import { geminiCodec } from '../../../../src/formats/gemini/index.js';
import { weatherConversation } from './tool-conversation.js';

const request = (overrides: Partial<CanonicalRequest>): CanonicalRequest => ({
  model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }], stream: false, ...overrides,
});
const toGemini = (overrides: Partial<CanonicalRequest>) => geminiCodec.requestFromCanonical(request(overrides), 'gemini-2.5-flash');
const contentsOf = (messages: CanonicalMessage[]) => toGemini({ messages }).body.contents;

describe('canonical request → Gemini', () => {
  it('builds contents with role model for the assistant and no model or stream in the body', () => {
    const { body, warnings } = toGemini({
      system: 'Be brief.',
      stream: true,
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
      ],
    });
    expect(body).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }, { role: 'model', parts: [{ text: 'Hello!' }] }],
    });
    expect(warnings).toEqual([]);
  });

  it('merges consecutive turns of the same role and skips turns left empty', () => {
    expect(contentsOf([
      { role: 'user', content: [{ type: 'text', text: 'one' }] },
      { role: 'user', content: [{ type: 'text', text: 'two' }] },
      { role: 'assistant', content: [{ type: 'reasoning', text: 'thinking...', signature: 'sig' }] },
      { role: 'user', content: [{ type: 'text', text: '' }, { type: 'text', text: 'three' }] },
    ])).toEqual([{ role: 'user', parts: [{ text: 'one' }, { text: 'two' }, { text: 'three' }] }]);
  });

  it('sends tool calls as functionCall parts and results as named functionResponse parts of a user turn', () => {
    expect(contentsOf(weatherConversation.slice(0, 5))).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Oslo, then the time in Tokyo?' }] },
      {
        role: 'model',
        parts: [
          { text: 'Checking.' },
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'skip_thought_signature_validator' },
          { functionCall: { name: 'get_weather', args: { city: 'Oslo' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { city: 'Oslo', t: 4 } } },
          { functionResponse: { name: 'get_weather', response: { city: 'Paris', t: 18 } } },
        ],
      },
      {
        role: 'model',
        parts: [{ text: 'Now the time.' }, { functionCall: { name: 'get_time', args: { tz: 'Asia/Tokyo' } }, thoughtSignature: 'skip_thought_signature_validator' }],
      },
      { role: 'user', parts: [{ functionResponse: { name: 'get_time', response: { result: '21:04' } } }] },
    ]);
  });

  it('prefers the name a tool result carries, and sends an error result under `error`', () => {
    const contents = contentsOf([
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1_0', name: 'lookup', isError: true, content: [{ type: 'text', text: 'not found' }] }] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 'call_1_1', name: 'lookup', isError: true, content: [{ type: 'text', text: '{"code":404}' }] }] },
    ]) as Array<{ parts: unknown[] }>;
    expect(contents[0]!.parts).toEqual([
      { functionResponse: { name: 'lookup', response: { error: 'not found' } } },
      { functionResponse: { name: 'lookup', response: { error: { code: 404 } } } },
    ]);
  });

  it('sends images a tool returned as parts next to its functionResponse', () => {
    const contents = contentsOf([
      { role: 'assistant', content: [{ type: 'tool_call', id: 't1', name: 'screenshot', arguments: '' }] },
      { role: 'user', content: [{ type: 'tool_result', toolCallId: 't1', content: [{ type: 'text', text: 'done' }, { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBO' } }] }] },
    ]) as Array<{ parts: unknown[] }>;
    expect(contents[0]!.parts).toEqual([{ functionCall: { name: 'screenshot', args: {} }, thoughtSignature: 'skip_thought_signature_validator' }]);
    expect(contents[1]!.parts).toEqual([{ functionResponse: { name: 'screenshot', response: { result: 'done' } } }, { inlineData: { mimeType: 'image/png', data: 'iVBO' } }]);
  });

  it('refuses a tool result whose call it cannot find, and arguments that are not a JSON object', () => {
    expect(() => contentsOf([{ role: 'user', content: [{ type: 'tool_result', toolCallId: 'nope', content: [] }] }])).toThrow(GatewayError);
    expect(() => contentsOf([{ role: 'assistant', content: [{ type: 'tool_call', id: 'c', name: 'f', arguments: '[1,2]' }] }])).toThrow(/not a JSON object/);
  });

  it('sends base64 images as inlineData and URLs as fileData with a MIME type guessed from the extension', () => {
    const contents = contentsOf([{
      role: 'user',
      content: [
        { type: 'image', source: { kind: 'base64', mediaType: 'image/gif', data: 'R0lG' } },
        { type: 'image', source: { kind: 'url', url: 'https://example.com/a/chart.PNG?size=large#top' } },
        { type: 'image', source: { kind: 'url', url: 'https://example.com/photo.webp' } },
        { type: 'image', source: { kind: 'url', url: 'https://example.com/render' } },
      ],
    }]) as Array<{ parts: unknown[] }>;
    expect(contents[0]!.parts).toEqual([
      { inlineData: { mimeType: 'image/gif', data: 'R0lG' } },
      { fileData: { mimeType: 'image/png', fileUri: 'https://example.com/a/chart.PNG?size=large#top' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/photo.webp' } },
      { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/render' } },
    ]);
  });

  it('declares tools with cleaned schemas and leaves parameters out for a tool without any', () => {
    const { body } = toGemini({
      tools: [
        {
          name: 'search',
          description: 'Search the web',
          parameters: { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { q: { type: 'string', format: 'uri' } }, required: ['q'], additionalProperties: false },
        },
        { name: 'now', parameters: { type: 'object', properties: {} } },
      ],
    });
    expect(body.tools).toEqual([{
      functionDeclarations: [
        { name: 'search', description: 'Search the web', parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] } },
        { name: 'now' },
      ],
    }]);
  });

  it.each([
    [{ type: 'auto' }, { mode: 'AUTO' }],
    [{ type: 'none' }, { mode: 'NONE' }],
    [{ type: 'required' }, { mode: 'ANY' }],
    [{ type: 'tool', name: 'now' }, { mode: 'ANY', allowedFunctionNames: ['now'] }],
  ] as const)('maps tool choice %j to functionCallingConfig %j', (toolChoice, functionCallingConfig) => {
    const { body } = toGemini({ tools: [{ name: 'now', parameters: {} }], toolChoice });
    expect(body.toolConfig).toEqual({ functionCallingConfig });
  });

  it('leaves toolConfig out when there are no tools', () => {
    expect(toGemini({ toolChoice: { type: 'none' } }).body.toolConfig).toBeUndefined();
  });

  it('maps sampling parameters into generationConfig', () => {
    const { body } = toGemini({ maxTokens: 256, temperature: 1.2, topP: 0.8, topK: 20, stop: ['\n\n', 'END'], n: 1, seed: 42 });
    expect(body.generationConfig).toEqual({
      maxOutputTokens: 256, temperature: 1.2, topP: 0.8, topK: 20, stopSequences: ['\n\n', 'END'], candidateCount: 1, seed: 42,
    });
    expect(toGemini({ stop: [] }).body.generationConfig).toBeUndefined();
  });

  it('drops what current Gemini models refuse, naming it: penalties, stop sequences past 5; refuses n > 1', () => {
    const { body, warnings } = toGemini({ presencePenalty: 0.1, frequencyPenalty: 0.2, stop: ['a', 'b', 'c', 'd', 'e', 'f'] });
    expect(body.generationConfig).toEqual({ stopSequences: ['a', 'b', 'c', 'd', 'e'] });
    expect(warnings).toEqual(['presence_penalty', 'frequency_penalty', 'stop (only the first 5 sequences)']);
    expect(() => toGemini({ n: 3 })).toThrow(expect.objectContaining({ code: 'not_translatable', param: 'n' }));
  });

  it('maps JSON mode to responseMimeType, with the JSON Schema as responseJsonSchema', () => {
    expect(toGemini({ responseFormat: { type: 'json_object' } }).body.generationConfig).toEqual({ responseMimeType: 'application/json' });
    const schema = { type: 'object', properties: { answer: { type: 'number' } }, additionalProperties: false };
    expect(toGemini({ responseFormat: { type: 'json_schema', name: 'result', schema, strict: true } }).body.generationConfig)
      .toEqual({ responseMimeType: 'application/json', responseJsonSchema: schema });
    expect(toGemini({ responseFormat: { type: 'text' } }).body.generationConfig).toBeUndefined();
  });

  it('warns about what Gemini cannot carry: the end-user id and disabling parallel tool calls', () => {
    expect(toGemini({ user: 'user-42', parallelToolCalls: false }).warnings).toEqual(['user', 'parallel_tool_calls']);
  });
});
