/**
 * What the mock "model" says, decided from a request in any format: the last user text, images seen, tools offered,
 * and whether the last message is a tool result. Pure functions, shared by every wire format of the mock.
 */

export type ProviderFormat = 'openai' | 'anthropic' | 'gemini' | 'responses';

export interface Conversation {
  lastUserText: string;
  images: number;
  toolNames: string[];
  forcedTool?: string;
  toolsDisabled: boolean;
  lastIsToolResult: boolean;
  toolResultText: string;
  allText: string;
  maxTokens?: number;
  /** JSON output asked for: a schema (structured output) or `{}` (JSON mode without one). */
  jsonSchema?: Record<string, unknown>;
}

export type Reply =
  /** `thinking`: reasoning before the text (Anthropic thinking, a Responses reasoning item; other formats ignore it). */
  | { kind: 'text'; text: string; stop: 'stop' | 'length'; thinking?: { text: string; signature: string } }
  | { kind: 'tool_call'; name: string; arguments: Record<string, unknown> };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const textOfParts = (parts: unknown): string => {
  if (typeof parts === 'string') return parts;
  if (!Array.isArray(parts)) return '';
  return parts.map((p: Json) => (typeof p === 'string' ? p : p.text ?? (p.type === 'tool_result' ? textOfParts(p.content) : ''))).join('');
};

export function readConversation(format: ProviderFormat, body: Json): Conversation {
  const conv: Conversation = { lastUserText: '', images: 0, toolNames: [], toolsDisabled: false, lastIsToolResult: false, toolResultText: '', allText: '' };
  const texts: string[] = [];
  if (format === 'openai') {
    for (const m of body.messages ?? []) {
      texts.push(textOfParts(m.content));
      if (Array.isArray(m.content)) conv.images += m.content.filter((p: Json) => p.type === 'image_url').length;
      if (m.role === 'user') conv.lastUserText = textOfParts(m.content);
    }
    const last = body.messages?.at(-1);
    conv.lastIsToolResult = last?.role === 'tool' || last?.role === 'function';
    if (conv.lastIsToolResult) conv.toolResultText = textOfParts(last.content);
    conv.toolNames = (body.tools ?? []).map((t: Json) => t.function?.name).concat((body.functions ?? []).map((f: Json) => f.name)).filter(Boolean);
    conv.toolsDisabled = body.tool_choice === 'none';
    if (typeof body.tool_choice === 'object') conv.forcedTool = body.tool_choice.function?.name;
    conv.maxTokens = body.max_completion_tokens ?? body.max_tokens;
    if (body.response_format?.type === 'json_schema') conv.jsonSchema = body.response_format.json_schema?.schema ?? {};
    else if (body.response_format?.type === 'json_object') conv.jsonSchema = {};
  } else if (format === 'anthropic') {
    texts.push(textOfParts(body.system));
    for (const m of body.messages ?? []) {
      texts.push(textOfParts(m.content));
      if (Array.isArray(m.content)) conv.images += m.content.filter((b: Json) => b.type === 'image').length;
      if (m.role === 'user') {
        const blocks = Array.isArray(m.content) ? m.content : [{ type: 'text', text: m.content }];
        const text = blocks.filter((b: Json) => b.type === 'text').map((b: Json) => b.text).join('');
        if (text) conv.lastUserText = text;
      }
    }
    const last = body.messages?.at(-1);
    const results = Array.isArray(last?.content) ? last.content.filter((b: Json) => b.type === 'tool_result') : [];
    conv.lastIsToolResult = last?.role === 'user' && results.length > 0;
    if (conv.lastIsToolResult) conv.toolResultText = textOfParts(results[0].content);
    conv.toolNames = (body.tools ?? []).map((t: Json) => t.name);
    conv.toolsDisabled = body.tool_choice?.type === 'none';
    if (body.tool_choice?.type === 'tool') conv.forcedTool = body.tool_choice.name;
    conv.maxTokens = body.max_tokens;
  } else if (format === 'responses') {
    texts.push(typeof body.instructions === 'string' ? body.instructions : '');
    const items: Json[] = typeof body.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : body.input ?? [];
    for (const item of items) {
      if ((item.type ?? 'message') === 'message') {
        texts.push(textOfParts(item.content));
        if (Array.isArray(item.content)) conv.images += item.content.filter((p: Json) => p.type === 'input_image').length;
        if (item.role === 'user') conv.lastUserText = textOfParts(item.content);
      } else if (item.type === 'function_call_output') {
        texts.push(textOfParts(item.output));
      }
    }
    const last = items.at(-1);
    conv.lastIsToolResult = last?.type === 'function_call_output';
    if (conv.lastIsToolResult) conv.toolResultText = textOfParts(last!.output);
    conv.toolNames = (body.tools ?? []).filter((t: Json) => t.type === 'function').map((t: Json) => t.name);
    conv.toolsDisabled = body.tool_choice === 'none';
    if (body.tool_choice?.type === 'function') conv.forcedTool = body.tool_choice.name;
    conv.maxTokens = body.max_output_tokens;
    const format = body.text?.format;
    if (format?.type === 'json_schema') conv.jsonSchema = format.schema ?? {};
    else if (format?.type === 'json_object') conv.jsonSchema = {};
  } else {
    texts.push(textOfParts(body.systemInstruction?.parts));
    for (const c of body.contents ?? []) {
      texts.push(textOfParts(c.parts));
      conv.images += (c.parts ?? []).filter((p: Json) => p.inlineData || p.fileData).length;
      const text = (c.parts ?? []).filter((p: Json) => typeof p.text === 'string').map((p: Json) => p.text).join('');
      if ((c.role ?? 'user') === 'user' && text) conv.lastUserText = text;
    }
    const last = body.contents?.at(-1);
    const response = (last?.parts ?? []).find((p: Json) => p.functionResponse)?.functionResponse;
    conv.lastIsToolResult = response !== undefined;
    if (response) conv.toolResultText = typeof response.response?.result === 'string' ? response.response.result : JSON.stringify(response.response);
    conv.toolNames = (body.tools ?? []).flatMap((t: Json) => (t.functionDeclarations ?? []).map((f: Json) => f.name));
    const calling = body.toolConfig?.functionCallingConfig;
    conv.toolsDisabled = calling?.mode === 'NONE';
    if (calling?.mode === 'ANY' && calling.allowedFunctionNames?.length === 1) conv.forcedTool = calling.allowedFunctionNames[0];
    conv.maxTokens = body.generationConfig?.maxOutputTokens;
    const config = body.generationConfig ?? {};
    if (config.responseMimeType === 'application/json') conv.jsonSchema = config.responseJsonSchema ?? config.responseSchema ?? {};
  }
  conv.allText = texts.join('\n');
  return conv;
}

export function decideReply(provider: string, model: string, conv: Conversation): Reply {
  if (conv.toolNames.length > 0 && !conv.toolsDisabled && !conv.lastIsToolResult) {
    return { kind: 'tool_call', name: conv.forcedTool ?? conv.toolNames[0]!, arguments: { input: conv.lastUserText } };
  }
  if (conv.jsonSchema && !conv.lastIsToolResult) return { kind: 'text', text: JSON.stringify(sampleOf(conv.jsonSchema, conv.lastUserText)), stop: 'stop' };
  const base = conv.lastIsToolResult
    ? `tool result was: ${conv.toolResultText}`
    : `mock ${provider} ${model} says: ${conv.lastUserText.slice(0, 200)}${conv.images ? ` (saw ${conv.images} image(s))` : ''}`;
  const words = base.split(' ');
  if (conv.maxTokens !== undefined && conv.maxTokens < words.length) return { kind: 'text', text: words.slice(0, conv.maxTokens).join(' '), stop: 'length' };
  return { kind: 'text', text: base, stop: 'stop' };
}

/**
 * A value that satisfies a JSON schema (the subset structured output uses: object, array, string, number, integer,
 * boolean, enum, const, anyOf), strings filled with the user's text so a test can see the request got through.
 */
export function sampleOf(schema: Json, text: string): unknown {
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if (Array.isArray(schema.anyOf)) return sampleOf(schema.anyOf[0], text);
  const type = Array.isArray(schema.type) ? schema.type.find((t: string) => t !== 'null') : schema.type;
  switch (type) {
    case 'string': return text;
    case 'number':
    case 'integer': return 42;
    case 'boolean': return true;
    case 'array': return [sampleOf(schema.items ?? {}, text)];
    case 'null': return null;
    default: {
      const properties: Json = schema.properties ?? {};
      if (Object.keys(properties).length === 0 && type !== 'object') return { answer: text };
      return Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, sampleOf(child as Json, text)]));
    }
  }
}

/** Text pieces as streamed: one word (with its leading space) per event. */
export function pieces(text: string): string[] {
  return text.split(/(?= )/);
}

/** Tool-call arguments as streamed: at least two pieces. */
export function argumentPieces(args: Record<string, unknown>): string[] {
  const json = JSON.stringify(args);
  const cut = Math.max(1, Math.floor(json.length / 2));
  return [json.slice(0, cut), json.slice(cut)];
}

export interface MockUsage {
  input: number;
  output: number;
  cached: number;
}

export function usageFor(conv: Conversation, outputPieces: number): MockUsage {
  const input = Math.max(1, Math.ceil(conv.allText.length / 4));
  return { input, output: outputPieces, cached: conv.allText.includes('[cache]') ? Math.floor(input / 2) : 0 };
}
