/**
 * What the mock "model" says, decided from a request in any format: the last user text, images seen, tools offered,
 * and whether the last message is a tool result. Pure functions, shared by every wire format of the mock.
 */
import { sampleFromSchema } from './json-sample.js';

export type ProviderFormat = 'openai' | 'anthropic' | 'gemini' | 'responses' | 'bedrock';

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
  /** JSON output asked for (OpenAI response_format, Anthropic output_config.format, Gemini responseMimeType), with its schema if any. */
  jsonOutput?: { schema?: unknown };
  /** The input schema of the forced tool, when one is forced. */
  forcedToolSchema?: unknown;
  /** Reasoning asked for (OpenAI reasoning_effort, Anthropic thinking, Gemini thinkingConfig); `visible`: text returned. */
  reasoning?: { visible: boolean };
}

export type Reply = (
  | { kind: 'text'; text: string; stop: 'stop' | 'length' }
  | { kind: 'tool_call'; name: string; arguments: Record<string, unknown> }
) & {
  /**
   * The model's reasoning before its answer; `visible` when the provider returns the text (else only its tokens);
   * `signature`: the opaque state it comes with (Anthropic's signature, a Responses item's `encrypted_content`).
   */
  reasoning?: { text: string; visible: boolean; signature?: string };
};

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
    if (body.tool_choice === 'required' && conv.toolNames.length === 1) conv.forcedTool = conv.toolNames[0];
    conv.maxTokens = body.max_completion_tokens ?? body.max_tokens;
    conv.forcedToolSchema = (body.tools ?? []).find((t: Json) => conv.forcedTool && t.function?.name === conv.forcedTool)?.function?.parameters;
    if (typeof body.reasoning_effort === 'string' && body.reasoning_effort !== 'none') conv.reasoning = { visible: false };
    const format = body.response_format;
    if (format?.type === 'json_schema') conv.jsonOutput = { schema: format.json_schema?.schema };
    else if (format?.type === 'json_object') conv.jsonOutput = {};
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
    if (body.tool_choice?.type === 'any' && conv.toolNames.length === 1) conv.forcedTool = conv.toolNames[0];
    conv.maxTokens = body.max_tokens;
    conv.forcedToolSchema = (body.tools ?? []).find((t: Json) => conv.forcedTool && t.name === conv.forcedTool)?.input_schema;
    // Structured outputs: output_config.format (GA) or the beta's output_format, both {type: "json_schema", schema}.
    if (body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive') conv.reasoning = { visible: true };
    const format = body.output_config?.format ?? body.output_format;
    if (format?.type === 'json_schema') conv.jsonOutput = { schema: format.schema };
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
    const functions = (body.tools ?? []).filter((t: Json) => t.type === 'function');
    conv.toolNames = functions.map((t: Json) => t.name);
    conv.toolsDisabled = body.tool_choice === 'none';
    if (body.tool_choice?.type === 'function') conv.forcedTool = body.tool_choice.name;
    if (body.tool_choice === 'required' && conv.toolNames.length === 1) conv.forcedTool = conv.toolNames[0];
    conv.forcedToolSchema = functions.find((t: Json) => conv.forcedTool && t.name === conv.forcedTool)?.parameters;
    conv.maxTokens = body.max_output_tokens;
    // Reasoning items come back with their summary only when one is asked for (`reasoning.summary`).
    if (typeof body.reasoning?.effort === 'string' && body.reasoning.effort !== 'none') conv.reasoning = { visible: typeof body.reasoning.summary === 'string' };
    const format = body.text?.format;
    if (format?.type === 'json_schema') conv.jsonOutput = { schema: format.schema };
    else if (format?.type === 'json_object') conv.jsonOutput = {};
  } else if (format === 'bedrock') {
    texts.push(textOfParts(body.system));
    for (const m of body.messages ?? []) {
      const blocks: Json[] = m.content ?? [];
      texts.push(blocks.map((b) => b.text ?? (b.toolResult ? textOfParts(b.toolResult.content) : '')).join(''));
      conv.images += blocks.filter((b) => b.image).length;
      const text = blocks.filter((b) => typeof b.text === 'string').map((b) => b.text).join('');
      if (m.role === 'user' && text) conv.lastUserText = text;
    }
    const result = (body.messages?.at(-1)?.content ?? []).find((b: Json) => b.toolResult)?.toolResult;
    conv.lastIsToolResult = result !== undefined;
    if (result) conv.toolResultText = textOfParts(result.content);
    conv.toolNames = (body.toolConfig?.tools ?? []).map((t: Json) => t.toolSpec?.name).filter(Boolean);
    conv.forcedTool = body.toolConfig?.toolChoice?.tool?.name;
    conv.maxTokens = body.inferenceConfig?.maxTokens;
    // Claude on Bedrock: Anthropic's thinking object in additionalModelRequestFields; its text comes back signed.
    const thinking = body.additionalModelRequestFields?.thinking;
    if (thinking?.type === 'enabled') {
      conv.reasoning = { visible: true };
      // Thinking counts inside the output limit: the answer gets what is left.
      if (conv.maxTokens !== undefined && typeof thinking.budget_tokens === 'number') conv.maxTokens -= thinking.budget_tokens;
    }
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
    if (calling?.mode === 'ANY' && !calling.allowedFunctionNames && conv.toolNames.length === 1) conv.forcedTool = conv.toolNames[0];
    conv.maxTokens = body.generationConfig?.maxOutputTokens;
    const declarations = (body.tools ?? []).flatMap((t: Json) => t.functionDeclarations ?? []);
    const forced = declarations.find((f: Json) => conv.forcedTool && f.name === conv.forcedTool);
    conv.forcedToolSchema = forced?.parametersJsonSchema ?? forced?.parameters;
    const config = body.generationConfig ?? {};
    const thinking = config.thinkingConfig;
    if (thinking && thinking.thinkingBudget !== 0) conv.reasoning = { visible: thinking.includeThoughts === true };
    if (config.responseMimeType === 'application/json') conv.jsonOutput = { schema: config.responseJsonSchema ?? config.responseSchema };
  }
  conv.allText = texts.join('\n');
  return conv;
}

export function decideReply(provider: string, model: string, conv: Conversation): Reply {
  const reply = answer(provider, model, conv);
  return conv.reasoning ? { ...reply, reasoning: { text: `Thinking about: ${conv.lastUserText.slice(0, 100)}`, visible: conv.reasoning.visible } } : reply;
}

function answer(provider: string, model: string, conv: Conversation): Reply {
  if (conv.toolNames.length > 0 && !conv.toolsDisabled && !conv.lastIsToolResult) {
    // A forced tool is called with arguments that fit its schema (what constrained decoding gives).
    const args = conv.forcedToolSchema ? sampleFromSchema(conv.forcedToolSchema, conv.lastUserText) as Record<string, unknown> : { input: conv.lastUserText };
    return { kind: 'tool_call', name: conv.forcedTool ?? conv.toolNames[0]!, arguments: args };
  }
  if (conv.jsonOutput) {
    const value = conv.jsonOutput.schema ? sampleFromSchema(conv.jsonOutput.schema, conv.lastUserText) : { reply: conv.lastUserText };
    return { kind: 'text', text: JSON.stringify(value), stop: 'stop' };
  }
  const base = conv.lastIsToolResult
    ? `tool result was: ${conv.toolResultText}`
    : `mock ${provider} ${model} says: ${conv.lastUserText.slice(0, 200)}${conv.images ? ` (saw ${conv.images} image(s))` : ''}`;
  const words = base.split(' ');
  if (conv.maxTokens !== undefined && conv.maxTokens < words.length) return { kind: 'text', text: words.slice(0, conv.maxTokens).join(' '), stop: 'length' };
  return { kind: 'text', text: base, stop: 'stop' };
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
  /** All output tokens, reasoning included. */
  output: number;
  cached: number;
  reasoning: number;
}

/** Usage of a reply: one output token per streamed piece, reasoning pieces included. */
export function usageFor(conv: Conversation, outputPieces: number, reasoningPieces = 0): MockUsage {
  const input = Math.max(1, Math.ceil(conv.allText.length / 4));
  return { input, output: outputPieces + reasoningPieces, cached: conv.allText.includes('[cache]') ? Math.floor(input / 2) : 0, reasoning: reasoningPieces };
}
