import { z } from 'zod';
import { badRequest } from '../../errors/index.js';
import type {
  CanonicalMessage, CanonicalRequest, ContentPart, FilePart, ImagePart, ResponseFormat, TextPart, ToolChoice, ToolDefinition, ToolResultPart,
} from '../canonical.js';
import type { TranslatedRequest } from '../codec.js';
import { parseEffort, reasoningEffort } from '../reasoning.js';
import { zodIssueToBadRequest } from '../validation.js';
import { parseForeignReasoning } from './response.js';
import { refuseSeveralChoices } from '../several-choices.js';
import { inlineFilePart, storedFileRefused } from '../file-data.js';

/**
 * OpenAI Responses API request (https://platform.openai.com/docs/api-reference/responses/create), as the `openai`
 * SDK types it (`ResponseCreateParams`, `ResponseInputItem`). Partial on purpose: unknown fields pass (`.loose()`),
 * so a new parameter never breaks pass-through to OpenAI.
 */
const inputText = z.object({ type: z.literal('input_text'), text: z.string() }).loose();
const outputText = z.object({ type: z.literal('output_text'), text: z.string() }).loose();
const refusal = z.object({ type: z.literal('refusal'), refusal: z.string() }).loose();
const inputImage = z.object({ type: z.literal('input_image'), image_url: z.string().nullable().optional(), file_id: z.string().nullable().optional(), detail: z.enum(['auto', 'low', 'high']).optional() }).loose();
const inputFile = z.object({ type: z.literal('input_file'), file_data: z.string().optional(), file_url: z.string().optional(), file_id: z.string().nullable().optional(), filename: z.string().optional() }).loose();
const otherPart = z.object({ type: z.string() }).loose();
const messageContent = z.union([z.string(), z.array(z.union([inputText, outputText, refusal, inputImage, inputFile, otherPart]))]);

const messageItem = z.object({ type: z.literal('message').optional(), role: z.enum(['user', 'assistant', 'system', 'developer']), content: messageContent }).loose();
const functionCallItem = z.object({ type: z.literal('function_call'), call_id: z.string().min(1), name: z.string().min(1), arguments: z.string() }).loose();
const functionOutputItem = z.object({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(z.union([inputText, inputImage, otherPart]))]),
}).loose();
const reasoningItem = z.object({
  type: z.literal('reasoning'),
  summary: z.array(z.object({ text: z.string() }).loose()).optional(),
  content: z.array(z.object({ text: z.string() }).loose()).nullable().optional(),
  encrypted_content: z.string().nullable().optional(),
}).loose();
const otherItem = z.object({ type: z.string() }).loose();
const inputItem = z.union([messageItem, functionCallItem, functionOutputItem, reasoningItem, otherItem]);

const functionTool = z.object({ type: z.literal('function'), name: z.string().min(1), description: z.string().nullable().optional(), parameters: z.record(z.string(), z.unknown()).nullable().optional(), strict: z.boolean().nullable().optional() }).loose();
const otherTool = z.object({ type: z.string() }).loose();

const textFormat = z.union([
  z.object({ type: z.literal('text') }).loose(),
  z.object({ type: z.literal('json_object') }).loose(),
  z.object({ type: z.literal('json_schema'), name: z.string().min(1), schema: z.record(z.string(), z.unknown()), strict: z.boolean().nullable().optional(), description: z.string().optional() }).loose(),
]);

export const responsesRequestSchema = z
  .object({
    model: z.string().min(1),
    input: z.union([z.string(), z.array(inputItem)]).optional(),
    instructions: z.string().nullable().optional(),
    tools: z.array(z.union([functionTool, otherTool])).optional(),
    tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.object({ type: z.string() }).loose()]).optional(),
    parallel_tool_calls: z.boolean().nullable().optional(),
    text: z.object({ format: textFormat.optional() }).loose().nullable().optional(),
    max_output_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    reasoning: z.object({ effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullable().optional(), summary: z.string().nullable().optional() }).loose().nullable().optional(),
    metadata: z.record(z.string().max(64), z.string().max(512)).nullable().optional(),
    user: z.string().optional(),
    stream: z.boolean().nullable().optional(),
    store: z.boolean().nullable().optional(),
    previous_response_id: z.string().min(1).nullable().optional(),
  })
  .loose();

export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;
export type ResponsesInputItem = z.infer<typeof inputItem>;

/**
 * Tools that OpenAI itself runs (https://platform.openai.com/docs/guides/tools): no other provider can, so a request
 * carrying one is taken only by an OpenAI Responses provider (pass-through) and refused with 400 otherwise.
 */
export const BUILT_IN_TOOL_NOTE = 'is a built-in tool that only OpenAI runs; no provider serving this model here can run it';

/** Parameters with no place in the canonical form: dropped (and named in `x-meshgate-warnings`) when translating. */
const RESPONSES_ONLY = ['include', 'truncation', 'service_tier', 'prompt_cache_key', 'safety_identifier', 'top_logprobs', 'max_tool_calls', 'stream_options'];
/** Stateful OpenAI features that a translation cannot honour: refused when a translation is needed. */
const OPENAI_STATE = ['prompt', 'conversation'];

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function image(part: z.infer<typeof inputImage>, where: string): ImagePart {
  if (!part.image_url) throw badRequest('An input_image by file_id refers to a file stored at OpenAI; only an OpenAI provider can read it.', where, 'not_translatable');
  const match = DATA_URL.exec(part.image_url);
  const source = match ? { kind: 'base64' as const, mediaType: match[1]!, data: match[2]! } : { kind: 'url' as const, url: part.image_url };
  return { type: 'image', source, ...(part.detail ? { detail: part.detail } : {}) };
}

/** An `input_file` inline (`file_data`, a data URL or base64) or by URL; a file stored at OpenAI (`file_id`) only OpenAI reads. */
function file(part: z.infer<typeof inputFile>, where: string): FilePart {
  const filename = part.filename ? { filename: part.filename } : {};
  if (part.file_url) return { type: 'file', source: { kind: 'url', url: part.file_url }, ...filename };
  if (part.file_data) return inlineFilePart(part.file_data, part.filename, `${where}.file_data`);
  return storedFileRefused(where);
}

function contentParts(content: z.infer<typeof messageContent>, where: string): Array<TextPart | ImagePart | FilePart> {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map((part, i) => {
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        return { type: 'text', text: (part as { text: string }).text };
      case 'refusal':
        return { type: 'text', text: (part as { refusal: string }).refusal };
      case 'input_image':
        return image(part as z.infer<typeof inputImage>, `${where}[${i}]`);
      case 'input_file':
        return file(part as z.infer<typeof inputFile>, `${where}[${i}]`);
      default:
        throw badRequest(`Content part type '${part.type}' is not supported when translating to another provider format.`, `${where}[${i}].type`, 'not_translatable');
    }
  });
}

const textOf = (content: z.infer<typeof messageContent>) =>
  typeof content === 'string' ? content : content.map((p) => ('text' in p && typeof p.text === 'string' ? p.text : '')).join('');

/** Consecutive assistant items (reasoning, message, function_call) form one assistant turn. */
function assistantTurn(messages: CanonicalMessage[]): CanonicalMessage {
  const last = messages[messages.length - 1];
  if (last?.role === 'assistant') return last;
  const turn: CanonicalMessage = { role: 'assistant', content: [] };
  messages.push(turn);
  return turn;
}

/** Consecutive tool results form one user message (how Anthropic and Gemini want them). */
function pushToolResult(messages: CanonicalMessage[], part: ToolResultPart): void {
  const last = messages[messages.length - 1];
  if (last?.role === 'user' && last.content.length > 0 && last.content.every((p) => p.type === 'tool_result')) last.content.push(part);
  else messages.push({ role: 'user', content: [part] });
}

function toolChoice(choice: ResponsesRequest['tool_choice']): ToolChoice | undefined {
  if (choice === undefined) return undefined;
  if (typeof choice === 'string') return { type: choice };
  if (choice.type === 'function' && typeof choice.name === 'string') return { type: 'tool', name: choice.name };
  if (choice.type === 'allowed_tools') return { type: choice.mode === 'required' ? 'required' : 'auto' };
  throw badRequest(`tool_choice '${choice.type}' ${BUILT_IN_TOOL_NOTE}.`, 'tool_choice', 'not_translatable');
}

function responseFormat(text: ResponsesRequest['text']): ResponseFormat | undefined {
  const format = text?.format;
  if (!format) return undefined;
  if (format.type === 'json_schema') {
    const spec = format as { name: string; schema: Record<string, unknown>; strict?: boolean | null };
    return { type: 'json_schema', name: spec.name, schema: spec.schema, ...(spec.strict ? { strict: true } : {}) };
  }
  return { type: format.type as 'text' | 'json_object' };
}

/** The input as a list of items: a string input is one user message (what OpenAI does with it). */
export function inputItems(input: ResponsesRequest['input']): ResponsesInputItem[] {
  if (input === undefined) return [];
  return typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
}

function tools(request: ResponsesRequest): ToolDefinition[] | undefined {
  if (!request.tools) return undefined;
  return request.tools.map((tool, i) => {
    if (tool.type !== 'function') throw badRequest(`Tool '${tool.type}' ${BUILT_IN_TOOL_NOTE}.`, `tools[${i}].type`, 'not_translatable');
    const fn = tool as z.infer<typeof functionTool>;
    return { name: fn.name, ...(fn.description ? { description: fn.description } : {}), parameters: fn.parameters ?? { type: 'object', properties: {} } };
  });
}

export function parseResponsesRequest(body: unknown): ResponsesRequest {
  const parsed = responsesRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  if ((body as { background?: unknown }).background === true) {
    throw badRequest('Background responses are not supported by this gateway: send the request without `background`.', 'background', 'unsupported_parameter');
  }
  return parsed.data;
}

export function responsesRequestToCanonical(body: unknown): CanonicalRequest {
  const request = parseResponsesRequest(body);
  for (const key of OPENAI_STATE) {
    if ((body as Record<string, unknown>)[key] != null) throw badRequest(`\`${key}\` refers to state kept at OpenAI; only an OpenAI provider can serve it.`, key, 'not_translatable');
  }
  const system: string[] = request.instructions ? [request.instructions] : [];
  const messages: CanonicalMessage[] = [];
  inputItems(request.input).forEach((item, index) => {
    const where = `input[${index}]`;
    switch (item.type ?? 'message') {
      case 'message': {
        const message = item as z.infer<typeof messageItem>;
        if (message.role === 'system' || message.role === 'developer') system.push(textOf(message.content));
        else if (message.role === 'user') messages.push({ role: 'user', content: contentParts(message.content, `${where}.content`) });
        else assistantTurn(messages).content.push(...contentParts(message.content, `${where}.content`).filter((p): p is TextPart => p.type === 'text'));
        break;
      }
      case 'function_call': {
        const call = item as z.infer<typeof functionCallItem>;
        assistantTurn(messages).content.push({ type: 'tool_call', id: call.call_id, name: call.name, arguments: call.arguments });
        break;
      }
      case 'function_call_output': {
        const result = item as z.infer<typeof functionOutputItem>;
        const parts = typeof result.output === 'string' ? (result.output === '' ? [] : [{ type: 'text' as const, text: result.output }]) : contentParts(result.output, `${where}.output`);
        const attached = parts.findIndex((p) => p.type === 'file');
        if (attached >= 0) throw badRequest('A file inside a function_call_output cannot be translated to another provider format.', `${where}.output[${attached}]`, 'not_translatable');
        const content = parts as Array<TextPart | ImagePart>;
        pushToolResult(messages, { type: 'tool_result', toolCallId: result.call_id, content });
        break;
      }
      case 'reasoning': {
        const reasoning = item as z.infer<typeof reasoningItem>;
        const text = [...(reasoning.content ?? []), ...(reasoning.summary ?? [])].map((p) => p.text).join('\n');
        // Only a signature another provider gave (tagged by this gateway) means something to a translation target;
        // OpenAI's own encrypted reasoning is for OpenAI alone.
        const foreign = reasoning.encrypted_content ? parseForeignReasoning(reasoning.encrypted_content) : undefined;
        assistantTurn(messages).content.push({ type: 'reasoning', text, ...(foreign?.format === 'anthropic' ? { signature: foreign.signature } : {}) } as ContentPart);
        break;
      }
      default:
        throw badRequest(`Input item type '${item.type}' is not supported when translating to another provider format.`, `${where}.type`, 'not_translatable');
    }
  });
  if (messages.length === 0) throw badRequest('`input` is required: give at least one message or item (or continue a stored response with `previous_response_id`).', 'input');
  const definitions = tools(request);
  const choice = toolChoice(request.tool_choice);
  const format = responseFormat(request.text);
  const bodyKeys = Object.keys(body as object);
  const warnings = RESPONSES_ONLY.filter((key) => bodyKeys.includes(key));
  if ((request.text as { verbosity?: unknown } | null | undefined)?.verbosity !== undefined) warnings.push('text.verbosity');
  // allowed_tools narrows the tools the model may call; translated, every tool offered stays callable.
  if (typeof request.tool_choice === 'object' && request.tool_choice.type === 'allowed_tools') warnings.push('tool_choice.allowed_tools');
  return {
    model: request.model,
    ...(system.length ? { system: system.join('\n\n') } : {}),
    messages,
    ...(definitions ? { tools: definitions } : {}),
    ...(choice ? { toolChoice: choice } : {}),
    ...(request.parallel_tool_calls != null ? { parallelToolCalls: request.parallel_tool_calls } : {}),
    ...(request.max_output_tokens ? { maxTokens: request.max_output_tokens } : {}),
    ...(request.temperature != null ? { temperature: request.temperature } : {}),
    ...(request.top_p != null ? { topP: request.top_p } : {}),
    ...(format ? { responseFormat: format } : {}),
    ...(request.reasoning?.effort ? { reasoning: { effort: parseEffort(request.reasoning.effort)!, enabled: request.reasoning.effort !== 'none', ...(request.reasoning.summary ? { includeText: true } : {}) } } : {}),
    ...(request.metadata && Object.keys(request.metadata).length ? { metadata: request.metadata } : {}),
    ...(request.user ? { user: request.user } : {}),
    stream: request.stream === true,
    warnings,
  };
}

/**
 * A Responses body for OpenAI as the client sent it, less the reasoning items another provider produced (their
 * `encrypted_content` is tagged by this gateway): OpenAI refuses encrypted content it did not make.
 */
export function withoutForeignReasoning(body: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(body.input)) return body;
  const input = (body.input as Array<Record<string, unknown>>).filter((item) => !(item.type === 'reasoning' && typeof item.encrypted_content === 'string' && parseForeignReasoning(item.encrypted_content)));
  return input.length === body.input.length ? body : { ...body, input };
}

const urlOf = (source: ImagePart['source']) => (source.kind === 'base64' ? `data:${source.mediaType};base64,${source.data}` : source.url);

function inputContent(parts: Array<TextPart | ImagePart | FilePart>): Array<Record<string, unknown>> {
  return parts.map((p) => {
    if (p.type === 'text') return { type: 'input_text', text: p.text };
    if (p.type === 'image') return { type: 'input_image', image_url: urlOf(p.source), detail: p.detail ?? 'auto' };
    const filename = p.filename ?? 'file';
    return p.source.kind === 'url' ? { type: 'input_file', file_url: p.source.url } : { type: 'input_file', filename, file_data: urlOf(p.source) };
  });
}

/**
 * Canonical → Responses body, for a model served only at `/v1/responses`. The gateway keeps no state at the provider
 * (`store: false`): the whole conversation travels in `input`. Reasoning parts of earlier turns are dropped (another
 * provider's signature is no OpenAI `encrypted_content`), as for Chat Completions.
 */
export function canonicalToResponsesRequest(req: CanonicalRequest, model: string): TranslatedRequest {
  refuseSeveralChoices(req.n, 'the Responses API (one output per response)');
  const input: Array<Record<string, unknown>> = [];
  for (const message of req.messages) {
    if (message.role === 'assistant') {
      const text = message.content.filter((p): p is TextPart => p.type === 'text').map((p) => p.text).join('');
      if (text) input.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] });
      for (const part of message.content) {
        if (part.type === 'tool_call') input.push({ type: 'function_call', call_id: part.id, name: part.name, arguments: part.arguments });
      }
      continue;
    }
    const ordinary: Array<TextPart | ImagePart | FilePart> = [];
    for (const part of message.content) {
      if (part.type === 'tool_result') {
        const text = part.content.every((p) => p.type === 'text');
        const output = text ? part.content.map((p) => (p as TextPart).text).join('') : inputContent(part.content);
        input.push({ type: 'function_call_output', call_id: part.toolCallId, output: part.isError && typeof output === 'string' ? `Error: ${output}` : output });
      } else if (part.type === 'text' || part.type === 'image' || part.type === 'file') {
        ordinary.push(part);
      }
    }
    if (ordinary.length) input.push({ type: 'message', role: 'user', content: inputContent(ordinary) });
  }
  const body: Record<string, unknown> = { model, input, store: false };
  if (req.system) body.instructions = req.system;
  if (req.tools?.length) body.tools = req.tools.map((t) => ({ type: 'function', name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters, strict: false }));
  if (req.toolChoice) body.tool_choice = req.toolChoice.type === 'tool' ? { type: 'function', name: req.toolChoice.name } : req.toolChoice.type;
  if (req.parallelToolCalls !== undefined && req.tools?.length) body.parallel_tool_calls = req.parallelToolCalls;
  if (req.maxTokens !== undefined) body.max_output_tokens = req.maxTokens;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.user) body.user = req.user;
  if (req.metadata) body.metadata = req.metadata;
  if (req.responseFormat) {
    body.text = { format: req.responseFormat.type === 'json_schema'
      ? { type: 'json_schema', name: req.responseFormat.name, schema: req.responseFormat.schema, strict: req.responseFormat.strict === true }
      : { type: req.responseFormat.type } };
  }
  // One table maps budgets to efforts for every format (formats/reasoning.ts, shown in the README).
  const effort = reasoningEffort(req.reasoning);
  if (effort) body.reasoning = { effort, ...(req.reasoning?.includeText ? { summary: 'auto' } : {}) };
  const warnings: string[] = [];
  if (req.stop?.length) warnings.push('stop');
  if (req.seed !== undefined) warnings.push('seed');
  if (req.topK !== undefined) warnings.push('top_k');
  if (req.presencePenalty !== undefined) warnings.push('presence_penalty');
  if (req.frequencyPenalty !== undefined) warnings.push('frequency_penalty');
  if (req.stream) body.stream = true;
  return { body, warnings };
}
