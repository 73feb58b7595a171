import { describe, expect, it } from 'vitest';
import type { ToolCallPart, ToolResultPart } from '../../../../src/formats/canonical.js';
import { GatewayError } from '../../../../src/errors/index.js';
import { geminiCodec } from '../../../../src/formats/gemini/index.js';
import { fixture } from './fixtures.js';

const toCanonical = (body: unknown, ctx = { model: 'gemini-2.5-flash', stream: false }) => geminiCodec.requestToCanonical(body, ctx);
const userText = (text: string) => ({ role: 'user', parts: [{ text }] });

function badRequestOf(body: unknown): GatewayError {
  try {
    toCanonical(body);
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('Gemini request → canonical', () => {
  it('takes model and streaming from the URL context and maps roles (none means user)', () => {
    const req = toCanonical(
      { contents: [{ parts: [{ text: 'Hi' }] }, { role: 'model', parts: [{ text: 'Hello!' }] }, userText('Tell me a joke')] },
      { model: 'gemini-2.5-pro', stream: true },
    );
    expect(req.model).toBe('gemini-2.5-pro');
    expect(req.stream).toBe(true);
    expect(req.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hello!' }] },
      { role: 'user', content: [{ type: 'text', text: 'Tell me a joke' }] },
    ]);
    expect(req.warnings).toEqual([]);
  });

  it('joins the parts of systemInstruction into the system prompt', () => {
    const req = toCanonical({ systemInstruction: { parts: [{ text: 'Be brief.' }, { text: 'Answer in French.' }] }, contents: [userText('Hi')] });
    expect(req.system).toBe('Be brief.\n\nAnswer in French.');
  });

  it('derives tool call ids from positions and pairs responses with calls of the same name, in order', () => {
    const req = toCanonical(fixture('tool-exchange-request'));
    const calls = req.messages[1]!.content as ToolCallPart[];
    expect(calls.map((call) => [call.id, call.name, call.arguments])).toEqual([
      ['call_1_0', 'get_weather', '{"city":"Paris"}'],
      ['call_1_1', 'get_weather', '{"city":"London"}'],
      ['call_1_2', 'get_time', '{"timezone":"Asia/Tokyo"}'],
    ]);
    const results = req.messages[2]!.content as ToolResultPart[];
    expect(results.map((result) => [result.toolCallId, result.name])).toEqual([
      ['call_1_2', 'get_time'],
      ['call_1_0', 'get_weather'],
      ['call_1_1', 'get_weather'],
    ]);
  });

  it('turns functionResponse.response into JSON text, with an `error` key marking an error', () => {
    const results = toCanonical(fixture('tool-exchange-request')).messages[2]!.content as ToolResultPart[];
    expect(results[1]).toEqual({ type: 'tool_result', toolCallId: 'call_1_0', name: 'get_weather', content: [{ type: 'text', text: '{"temperature":18,"sky":"clear"}' }] });
    expect(results[2]!.content).toEqual([{ type: 'text', text: '{"error":"station offline"}' }]);
    expect(results[2]!.isError).toBe(true);
  });

  it('uses the ids Gemini sends and pairs responses by id when they have one', () => {
    const req = toCanonical({
      contents: [
        userText('weather?'),
        { role: 'model', parts: [{ functionCall: { id: 'fc-a', name: 'get_weather', args: { city: 'Oslo' } } }, { functionCall: { id: 'fc-b', name: 'get_weather', args: { city: 'Rome' } } }] },
        { role: 'user', parts: [{ functionResponse: { id: 'fc-b', name: 'get_weather', response: { t: 30 } } }, { functionResponse: { name: 'get_weather', response: { t: 5 } } }] },
      ],
    });
    expect((req.messages[1]!.content as ToolCallPart[]).map((call) => call.id)).toEqual(['fc-a', 'fc-b']);
    expect((req.messages[2]!.content as ToolResultPart[]).map((result) => result.toolCallId)).toEqual(['fc-b', 'fc-a']);
  });

  it('refuses a functionResponse that answers no earlier call, naming the part', () => {
    const err = badRequestOf({ contents: [{ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { t: 1 } } }] }] });
    expect(err.status).toBe(400);
    expect(err.param).toBe('contents[0].parts[0].functionResponse');
  });

  it('reads images from inlineData (base64) and fileData (URL), and images a function returned', () => {
    const req = toCanonical({
      contents: [
        { role: 'user', parts: [{ text: 'Compare' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }, { fileData: { mimeType: 'image/jpeg', fileUri: 'https://example.com/cat.jpg' } }] },
        { role: 'model', parts: [{ functionCall: { name: 'screenshot', args: {} } }] },
        { role: 'user', parts: [{ functionResponse: { name: 'screenshot', response: { ok: true }, parts: [{ inlineData: { mimeType: 'image/webp', data: 'UklGRg==' } }] } }] },
      ],
    });
    expect(req.messages[0]!.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { kind: 'base64', mediaType: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { kind: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
    expect((req.messages[2]!.content[0] as ToolResultPart).content).toEqual([
      { type: 'text', text: '{"ok":true}' },
      { type: 'image', source: { kind: 'base64', mediaType: 'image/webp', data: 'UklGRg==' } },
    ]);
  });

  it('refuses media other than images with code not_translatable', () => {
    const err = badRequestOf({ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'audio/mp3', data: 'SUQz' } }] }] });
    expect(err.code).toBe('not_translatable');
    expect(err.param).toBe('contents[0].parts[0].inlineData.mimeType');
    expect(badRequestOf({ contents: [{ role: 'user', parts: [{ fileData: { mimeType: 'application/pdf', fileUri: 'https://x/a.pdf' } }] }] }).param)
      .toBe('contents[0].parts[0].fileData.mimeType');
  });

  it('reads thought parts as reasoning and drops empty text parts that only carry a signature', () => {
    const req = toCanonical({
      contents: [
        userText('Which is larger, 9.9 or 9.11?'),
        { role: 'model', parts: [{ text: 'Compare the decimals.', thought: true }, { text: '9.9', thoughtSignature: 'c2ln' }, { text: '', thoughtSignature: 'c2ln' }] },
        userText('Why?'),
      ],
    });
    expect(req.messages[1]!.content).toEqual([{ type: 'reasoning', text: 'Compare the decimals.' }, { type: 'text', text: '9.9' }]);
  });

  it('converts Gemini Schema parameters to JSON Schema and keeps parametersJsonSchema as it is', () => {
    const req = toCanonical(fixture('tool-exchange-request'));
    expect(req.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Current weather for a city.',
        parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
      },
      {
        name: 'get_time',
        description: 'Local time in a timezone.',
        parameters: { type: 'object', properties: { timezone: { type: 'string' } }, required: ['timezone'], additionalProperties: false },
      },
    ]);
    const bare = toCanonical({ contents: [userText('x')], tools: [{ functionDeclarations: [{ name: 'ping' }] }] });
    expect(bare.tools).toEqual([{ name: 'ping', parameters: { type: 'object', properties: {} } }]);
  });

  it.each(['googleSearch', 'codeExecution', 'urlContext'])('refuses the Gemini-only tool %s when translating', (tool) => {
    const err = badRequestOf({ contents: [userText('x')], tools: [{ functionDeclarations: [{ name: 'ping' }] }, { [tool]: {} }] });
    expect(err.status).toBe(400);
    expect(err.code).toBe('not_translatable');
    expect(err.param).toBe(`tools[1].${tool}`);
  });

  it('refuses code execution parts in the history', () => {
    const err = badRequestOf({ contents: [userText('x'), { role: 'model', parts: [{ executableCode: { language: 'PYTHON', code: 'print(1)' } }] }] });
    expect(err.code).toBe('not_translatable');
    expect(err.param).toBe('contents[1].parts[0].executableCode');
  });

  it.each([
    [{ mode: 'AUTO' }, { type: 'auto' }, []],
    [{ mode: 'VALIDATED' }, { type: 'auto' }, []],
    [{ mode: 'NONE' }, { type: 'none' }, []],
    [{ mode: 'ANY' }, { type: 'required' }, []],
    [{ mode: 'ANY', allowedFunctionNames: ['get_time'] }, { type: 'tool', name: 'get_time' }, []],
    [{ mode: 'ANY', allowedFunctionNames: ['get_time', 'get_weather'] }, { type: 'required' }, ['toolConfig.functionCallingConfig.allowedFunctionNames']],
  ])('maps functionCallingConfig %j to tool choice %j', (functionCallingConfig, toolChoice, warnings) => {
    const req = toCanonical({ contents: [userText('x')], toolConfig: { functionCallingConfig } });
    expect(req.toolChoice).toEqual(toolChoice);
    expect(req.warnings).toEqual(warnings);
  });

  it('maps every sampling field of generationConfig', () => {
    const req = toCanonical({
      contents: [userText('x')],
      generationConfig: {
        maxOutputTokens: 100, temperature: 0.7, topP: 0.9, topK: 40, stopSequences: ['END'], candidateCount: 2, seed: 7,
        presencePenalty: 0.5, frequencyPenalty: -0.5,
      },
    });
    expect(req).toMatchObject({ maxTokens: 100, temperature: 0.7, topP: 0.9, topK: 40, stop: ['END'], n: 2, seed: 7, presencePenalty: 0.5, frequencyPenalty: -0.5 });
    expect(req.warnings).toEqual([]);
  });

  it('maps JSON mode: application/json alone, with a JSON Schema, and with a Gemini Schema', () => {
    const jsonOnly = toCanonical({ contents: [userText('x')], generationConfig: { responseMimeType: 'application/json' } });
    expect(jsonOnly.responseFormat).toEqual({ type: 'json_object' });
    const jsonSchema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
    const withJsonSchema = toCanonical({ contents: [userText('x')], generationConfig: { responseMimeType: 'application/json', responseJsonSchema: jsonSchema } });
    expect(withJsonSchema.responseFormat).toEqual({ type: 'json_schema', name: 'response', schema: jsonSchema });
    const withGeminiSchema = toCanonical({
      contents: [userText('x')],
      generationConfig: { responseMimeType: 'application/json', responseSchema: { type: 'ARRAY', items: { type: 'STRING', nullable: true }, propertyOrdering: [] } },
    });
    expect(withGeminiSchema.responseFormat).toEqual({ type: 'json_schema', name: 'response', schema: { type: 'array', items: { type: ['string', 'null'] } } });
  });

  it('names an enum response type it cannot express in warnings', () => {
    const req = toCanonical({ contents: [userText('x')], generationConfig: { responseMimeType: 'text/x.enum', responseSchema: { type: 'STRING', enum: ['a', 'b'] } } });
    expect(req.responseFormat).toBeUndefined();
    expect(req.warnings).toEqual(['generationConfig.responseMimeType', 'generationConfig.responseSchema']);
  });

  it('names the Gemini-only settings it drops in warnings', () => {
    const req = toCanonical({
      ...fixture<Record<string, unknown>>('tool-exchange-request'),
      cachedContent: 'cachedContents/abc',
      toolConfig: { functionCallingConfig: { mode: 'AUTO' }, retrievalConfig: { languageCode: 'en' } },
    });
    expect(req.warnings).toEqual(['safetySettings', 'cachedContent', 'toolConfig.retrievalConfig']);
  });

  it.each([
    [{}, 'contents'],
    [{ contents: [] }, 'contents'],
    [{ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, 'contents[0].role'],
    [{ contents: [{ role: 'user', parts: [] }] }, 'contents[0].parts'],
    [{ contents: [{ role: 'user', parts: [{ functionCall: { args: {} } }] }] }, 'contents[0].parts[0].functionCall.name'],
    [{ contents: [userText('x')], generationConfig: { temperature: 3 } }, 'generationConfig.temperature'],
    [{ contents: [userText('x')], toolConfig: { functionCallingConfig: { mode: 'SOMETIMES' } } }, 'toolConfig.functionCallingConfig.mode'],
    [{ contents: [{ role: 'user', parts: [{ videoMetadata: {} }] }] }, 'contents[0].parts[0]'],
  ])('answers an invalid body %j with a 400 naming %s', (body, param) => {
    const err = badRequestOf(body);
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toContain(param);
  });
});
