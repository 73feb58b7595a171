import { z } from 'zod';
import { isJsonObject } from '../../core/index.js';
import { badRequest } from '../../errors/index.js';
import type {
  CanonicalMessage, CanonicalRequest, ContentPart, FilePart, ImagePart, ReasoningEffort, ResponseFormat, TextPart, ToolChoice, ToolDefinition,
  ToolResultPart,
} from '../canonical.js';
import type { TranslatedRequest } from '../codec.js';
import { parseEffort, reasoningEffort } from '../reasoning.js';
import { zodIssueToBadRequest } from '../validation.js';
import { inlineFilePart, storedFileRefused } from '../file-data.js';
import { refuseSeveralChoices } from '../several-choices.js';

/**
 * OpenAI Chat Completions request (https://platform.openai.com/docs/api-reference/chat/create). Schemas are partial
 * on purpose: unknown fields pass (`.loose()`), so a new OpenAI parameter never breaks pass-through.
 */
const textPart = z.object({ type: z.literal('text'), text: z.string() }).loose();
const imagePart = z.object({ type: z.literal('image_url'), image_url: z.object({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }).loose() }).loose();
const fileContentPart = z.object({ type: z.literal('file'), file: z.object({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }).loose() }).loose();
const otherPart = z.object({ type: z.string() }).loose();
const contentSchema = z.union([z.string(), z.array(z.union([textPart, imagePart, fileContentPart, otherPart]))]).nullable().optional();
const toolCallSchema = z.object({ id: z.string(), type: z.literal('function').optional(), function: z.object({ name: z.string(), arguments: z.string() }).loose() }).loose();

const messageSchema = z.discriminatedUnion('role', [
  z.object({ role: z.literal('system'), content: contentSchema }).loose(),
  z.object({ role: z.literal('developer'), content: contentSchema }).loose(),
  z.object({ role: z.literal('user'), content: contentSchema }).loose(),
  z.object({ role: z.literal('assistant'), content: contentSchema, tool_calls: z.array(toolCallSchema).optional(), refusal: z.string().nullable().optional(), function_call: z.object({ name: z.string(), arguments: z.string() }).loose().nullable().optional() }).loose(),
  z.object({ role: z.literal('tool'), content: contentSchema, tool_call_id: z.string() }).loose(),
  z.object({ role: z.literal('function'), content: contentSchema, name: z.string() }).loose(),
]);

const functionDef = z.object({ name: z.string().min(1), description: z.string().optional(), parameters: z.record(z.string(), z.unknown()).optional() }).loose();

export const openaiChatRequestSchema = z
  .object({
    model: z.string().min(1),
    messages: z.array(messageSchema).min(1),
    stream: z.boolean().nullable().optional(),
    max_tokens: z.number().int().positive().nullable().optional(),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    presence_penalty: z.number().nullable().optional(),
    frequency_penalty: z.number().nullable().optional(),
    n: z.number().int().positive().nullable().optional(),
    user: z.string().optional(),
    parallel_tool_calls: z.boolean().optional(),
    tools: z.array(z.object({ type: z.literal('function'), function: functionDef }).loose()).optional(),
    tool_choice: z.union([z.enum(['auto', 'none', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: z.string() }) }).loose()]).optional(),
    functions: z.array(functionDef).optional(),
    function_call: z.union([z.enum(['auto', 'none']), z.object({ name: z.string() })]).optional(),
    response_format: z
      .union([
        z.object({ type: z.literal('text') }).loose(),
        z.object({ type: z.literal('json_object') }).loose(),
        z.object({ type: z.literal('json_schema'), json_schema: z.object({ name: z.string(), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullable().optional() }).loose() }).loose(),
      ])
      .optional(),
  })
  .loose();

export type OpenAIChatRequest = z.infer<typeof openaiChatRequestSchema>;

/** OpenAI-only parameters that the canonical form cannot carry: dropped (and named) when translating. */
const OPENAI_ONLY = ['logit_bias', 'logprobs', 'top_logprobs', 'service_tier', 'store', 'metadata', 'prediction', 'modalities', 'audio', 'web_search_options', 'verbosity', 'prompt_cache_key', 'safety_identifier'];

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageFromUrl(url: string, detail?: ImagePart['detail']): ImagePart {
  const match = DATA_URL.exec(url);
  const source = match ? { kind: 'base64' as const, mediaType: match[1]!, data: match[2]! } : { kind: 'url' as const, url };
  return { type: 'image', source, ...(detail ? { detail } : {}) };
}

function contentParts(content: z.infer<typeof contentSchema>, where: string): Array<TextPart | ImagePart | FilePart> {
  if (content === null || content === undefined) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map((part, i) => {
    if (part.type === 'text') return { type: 'text', text: (part as { text: string }).text };
    if (part.type === 'image_url') {
      const image = (part as z.infer<typeof imagePart>).image_url;
      return imageFromUrl(image.url, image.detail);
    }
    if (part.type === 'file') {
      // https://platform.openai.com/docs/guides/pdf-files: inline data, or an id of a file uploaded to OpenAI.
      const { file } = part as z.infer<typeof fileContentPart>;
      if (file.file_data) return inlineFilePart(file.file_data, file.filename, `${where}[${i}].file.file_data`);
      return storedFileRefused(`${where}[${i}].file`);
    }
    throw badRequest(`Content part type '${part.type}' is not supported when translating to another provider format.`, `${where}[${i}].type`, 'not_translatable');
  });
}

/** A tool result carries text and images in every target format; a file in one has nowhere to go. */
function toolResultPart(part: TextPart | ImagePart | FilePart, where: string): TextPart | ImagePart {
  if (part.type === 'file') throw badRequest('A file in a tool message cannot be translated to another provider format; attach it to a user message.', where, 'not_translatable');
  return part;
}

const textOf = (content: z.infer<typeof contentSchema>) =>
  typeof content === 'string' ? content : (content ?? []).map((p) => (p.type === 'text' ? (p as { text: string }).text : '')).join('');

function toolChoice(request: OpenAIChatRequest): ToolChoice | undefined {
  const choice = request.tool_choice ?? (request.function_call === undefined ? undefined : typeof request.function_call === 'string' ? request.function_call : { type: 'function' as const, function: request.function_call });
  if (choice === undefined) return undefined;
  if (typeof choice === 'string') return { type: choice };
  return { type: 'tool', name: choice.function.name };
}

function responseFormat(format: OpenAIChatRequest['response_format']): ResponseFormat | undefined {
  if (!format) return undefined;
  if (format.type === 'json_schema') {
    const spec = (format as { json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean | null } }).json_schema;
    return { type: 'json_schema', name: spec.name, schema: spec.schema ?? {}, ...(spec.strict ? { strict: true } : {}) };
  }
  return { type: format.type as 'text' | 'json_object' };
}

/** Consecutive tool results form one user message (how Anthropic and Gemini want them). */
function pushToolResult(messages: CanonicalMessage[], part: ToolResultPart): void {
  const last = messages[messages.length - 1];
  if (last?.role === 'user' && last.content.length > 0 && last.content.every((p) => p.type === 'tool_result')) last.content.push(part);
  else messages.push({ role: 'user', content: [part] });
}

const absentOr = (value: unknown, test: (value: unknown) => boolean) => value === undefined || value === null || test(value);
const isPositiveInt = (value: unknown) => Number.isSafeInteger(value) && (value as number) > 0;
const inRange = (min: number, max: number) => (value: unknown) => typeof value === 'number' && value >= min && value <= max;
const isFiniteNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
// Made once: built inside the check, each would be a new closure on every request.
const isTemperature = inRange(0, 2);
const isBoolean = (value: unknown) => typeof value === 'boolean';
const isTopP = inRange(0, 1);
const isStop = (value: unknown) => typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'));
/**
 * Whether `body` has a field of the schema this check does not look into (such a request goes through the schema).
 * Each read names its field: one `body[field]` over a list of names is a keyed load that V8 turns megamorphic (a
 * hash look-up per name) once it has seen more than four of them.
 */
const hasSchemaOnlyField = (body: Record<string, unknown>) =>
  body.tools !== undefined || body.tool_choice !== undefined || body.functions !== undefined
  || body.function_call !== undefined || body.response_format !== undefined;

function isPlainContent(content: unknown): boolean {
  if (content === undefined || content === null || typeof content === 'string') return true;
  if (!Array.isArray(content)) return false;
  for (const part of content) if (!isJsonObject(part) || part.type !== 'text' || typeof part.text !== 'string') return false;
  return true;
}

function isPlainMessage(message: unknown): boolean {
  if (!isJsonObject(message)) return false;
  const { role } = message;
  if (role === 'assistant') {
    if (message.tool_calls !== undefined || message.refusal !== undefined || message.function_call !== undefined) return false;
  } else if (role !== 'user' && role !== 'system' && role !== 'developer') {
    return false;
  }
  return isPlainContent(message.content);
}

/**
 * Whether `body` is a chat request of the common plain shape — text messages of the system, developer, user and
 * assistant roles, and the scalar parameters — that `openaiChatRequestSchema` accepts. The schema has no defaults
 * or transforms, so what it returns for such a body equals the body: the body is read as parsed, without the copy
 * and the generic walk (which in a node, where zod's shared code runs every schema, cost several times what it costs
 * alone). Anything else (tools, response formats, content parts other than text, tool calls, a value of an
 * unexpected type) is false and goes through the schema, which also words the errors. Never true for a body the
 * schema refuses: a test holds the two against each other.
 */
export function isPlainChatRequest(body: unknown): body is OpenAIChatRequest {
  if (!isJsonObject(body)) return false;
  if (typeof body.model !== 'string' || body.model.length === 0) return false;
  const { messages } = body;
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (const message of messages) if (!isPlainMessage(message)) return false;
  if (hasSchemaOnlyField(body)) return false;
  return absentOr(body.stream, isBoolean)
    && absentOr(body.max_tokens, isPositiveInt)
    && absentOr(body.max_completion_tokens, isPositiveInt)
    && absentOr(body.n, isPositiveInt)
    && absentOr(body.temperature, isTemperature)
    && absentOr(body.top_p, isTopP)
    && absentOr(body.stop, isStop)
    && absentOr(body.seed, Number.isSafeInteger)
    && absentOr(body.presence_penalty, isFiniteNumber)
    && absentOr(body.frequency_penalty, isFiniteNumber)
    && (body.user === undefined || typeof body.user === 'string')
    && (body.parallel_tool_calls === undefined || typeof body.parallel_tool_calls === 'boolean');
}

/** The request as `openaiChatRequestSchema` parses it; a 400 naming the first problem when it does not. */
function parseChatRequest(body: unknown): OpenAIChatRequest {
  if (isPlainChatRequest(body)) return body;
  const parsed = openaiChatRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  return parsed.data;
}

export function openaiRequestToCanonical(body: unknown): CanonicalRequest {
  const request = parseChatRequest(body);
  const system: string[] = [];
  const messages: CanonicalMessage[] = [];
  request.messages.forEach((message, index) => {
    const where = `messages[${index}].content`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(textOf(message.content));
        break;
      case 'user':
        messages.push({ role: 'user', content: contentParts(message.content, where) });
        break;
      case 'assistant': {
        const parts: ContentPart[] = contentParts(message.content, where).filter((p): p is TextPart => p.type === 'text');
        if (message.refusal) parts.push({ type: 'text', text: message.refusal });
        for (const call of message.tool_calls ?? []) parts.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments });
        if (message.function_call) parts.push({ type: 'tool_call', id: `call_fn_${index}`, name: message.function_call.name, arguments: message.function_call.arguments });
        messages.push({ role: 'assistant', content: parts });
        break;
      }
      case 'tool':
        pushToolResult(messages, { type: 'tool_result', toolCallId: message.tool_call_id, content: contentParts(message.content, where).map((p) => toolResultPart(p, where)) });
        break;
      case 'function': {
        // Legacy function role: pair with the most recent legacy function_call id.
        pushToolResult(messages, { type: 'tool_result', toolCallId: lastFunctionCallId(messages, message.name), name: message.name, content: [{ type: 'text', text: textOf(message.content) }] });
        break;
      }
    }
  });
  const tools: ToolDefinition[] | undefined = request.tools?.map((t) => ({ name: t.function.name, description: t.function.description, parameters: t.function.parameters ?? { type: 'object', properties: {} } }))
    ?? request.functions?.map((f) => ({ name: f.name, description: f.description, parameters: f.parameters ?? { type: 'object', properties: {} } }));
  const stop = request.stop === null || request.stop === undefined ? undefined : typeof request.stop === 'string' ? [request.stop] : [...request.stop];
  const askedEffort = (body as { reasoning_effort?: unknown }).reasoning_effort;
  const effort = parseEffort(askedEffort);
  // Built by assignment, optional keys only when present and in this order (a spread per key built a throw-away
  // object for each of them on every request).
  const canonical = { model: request.model } as CanonicalRequest;
  if (system.length) canonical.system = system.join('\n\n');
  canonical.messages = messages;
  if (tools) canonical.tools = tools;
  const choice = toolChoice(request);
  if (choice) canonical.toolChoice = choice;
  if (request.parallel_tool_calls !== undefined) canonical.parallelToolCalls = request.parallel_tool_calls;
  const maxTokens = request.max_completion_tokens ?? request.max_tokens;
  if (maxTokens) canonical.maxTokens = maxTokens;
  if (request.temperature != null) canonical.temperature = request.temperature;
  if (request.top_p != null) canonical.topP = request.top_p;
  if (stop) canonical.stop = stop;
  if (request.seed != null) canonical.seed = request.seed;
  if (request.presence_penalty != null) canonical.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) canonical.frequencyPenalty = request.frequency_penalty;
  if (request.n != null) canonical.n = request.n;
  const format = responseFormat(request.response_format);
  if (format) canonical.responseFormat = format;
  if (request.user) canonical.user = request.user;
  // OpenAI-compatible clients read the reasoning back as `reasoning_content`, so the text is wanted.
  if (effort) canonical.reasoning = effort === 'none' ? { enabled: false } : { effort, includeText: true };
  canonical.stream = request.stream === true;
  // An effort this gateway does not know (newer than its table) is named rather than refused: OpenAI may take it.
  const warnings = askedEffort !== undefined && askedEffort !== null && !effort ? ['reasoning_effort'] : [];
  for (const key of OPENAI_ONLY) if (Object.hasOwn(body as object, key)) warnings.push(key);
  canonical.warnings = warnings;
  return canonical;
}

function lastFunctionCallId(messages: CanonicalMessage[], name: string): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    for (const part of messages[i]!.content) if (part.type === 'tool_call' && part.name === name) return part.id;
  }
  return `call_${name}`;
}

function imageUrl(part: ImagePart): Record<string, unknown> {
  const url = part.source.kind === 'base64' ? `data:${part.source.mediaType};base64,${part.source.data}` : part.source.url;
  return { type: 'image_url', image_url: { url, ...(part.detail ? { detail: part.detail } : {}) } };
}

/** A file as a Chat Completions `file` part (https://platform.openai.com/docs/guides/pdf-files): inline data only. */
function filePart(part: FilePart): Record<string, unknown> {
  if (part.source.kind === 'url') throw badRequest('A file by URL cannot be sent as a Chat Completions file part; send it inline (base64 data).', 'input', 'not_translatable');
  return { type: 'file', file: { filename: part.filename ?? 'file', file_data: `data:${part.source.mediaType};base64,${part.source.data}` } };
}

function userContent(parts: Array<TextPart | ImagePart | FilePart>): string | Array<Record<string, unknown>> {
  if (parts.every((p) => p.type === 'text')) return parts.map((p) => (p as TextPart).text).join('');
  return parts.map((p) => (p.type === 'text' ? { type: 'text', text: p.text } : p.type === 'image' ? imageUrl(p) : filePart(p)));
}

/** OpenAI takes at most this many stop sequences. */
const MAX_STOP_SEQUENCES = 4;

/** Who receives an OpenAI-format request built from another format. */
export interface OpenAITarget {
  /** The provider type: OpenAI itself takes `max_completion_tokens`; compatible servers mostly `max_tokens`. */
  providerType?: string;
}

/**
 * `max_tokens` is deprecated by OpenAI and refused by its reasoning models (o-series, gpt-5), which take
 * `max_completion_tokens`; OpenAI-compatible servers and older Azure API versions know only `max_tokens`.
 */
function maxTokensField(target: OpenAITarget, model: string): 'max_tokens' | 'max_completion_tokens' {
  if (target.providerType === 'openai') return 'max_completion_tokens';
  return OPENAI_REASONING_MODEL.test(model) ? 'max_completion_tokens' : 'max_tokens';
}

/** OpenAI's reasoning models (o-series, gpt-5, gpt-oss): the ones that take `reasoning_effort`. */
const OPENAI_REASONING_MODEL = /^(o\d|gpt-5|gpt-oss)/i;

/**
 * The efforts each family of OpenAI reasoning models takes (https://platform.openai.com/docs/guides/reasoning): gpt-5.1
 * and later can skip reasoning (`none`), gpt-5 goes down to `minimal`, the o-series and gpt-oss to `low`.
 */
const EFFORTS_BY_FAMILY: ReadonlyArray<{ model: RegExp; efforts: readonly ReasoningEffort[] }> = [
  { model: /^gpt-5\.\d/i, efforts: ['none', 'low', 'medium', 'high'] },
  { model: /^gpt-5/i, efforts: ['minimal', 'low', 'medium', 'high'] },
  { model: /^(o\d|gpt-oss)/i, efforts: ['low', 'medium', 'high'] },
];
const EFFORT_ORDER: readonly ReasoningEffort[] = ['none', 'minimal', 'low', 'medium', 'high'];

/**
 * `reasoning_effort` from the reasoning table. OpenAI and Azure refuse it on models that do not reason, so there it
 * goes to reasoning models only (named in the warnings otherwise), moved up to the lowest effort the model takes
 * when it takes no lower one (named too); OpenAI-compatible servers get it as it is, to take or ignore.
 */
function applyReasoningEffort(body: Record<string, unknown>, req: CanonicalRequest, model: string, target: OpenAITarget, warnings: string[]): void {
  const effort = reasoningEffort(req.reasoning);
  if (effort === undefined) return;
  if (target.providerType === 'openai_compatible') {
    body.reasoning_effort = effort;
    return;
  }
  const family = EFFORTS_BY_FAMILY.find((f) => f.model.test(model));
  if (!family) {
    if (effort !== 'none') warnings.push('reasoning (this model takes no reasoning_effort)');
    return;
  }
  const taken = family.efforts.includes(effort) ? effort : family.efforts.find((e) => EFFORT_ORDER.indexOf(e) > EFFORT_ORDER.indexOf(effort))!;
  body.reasoning_effort = taken;
  if (taken !== effort) warnings.push(`reasoning (${effort} → ${taken}, the lowest effort this model takes)`);
}

/** Canonical → OpenAI body. Reasoning parts are dropped (OpenAI takes no reasoning input in Chat Completions). */
export function canonicalToOpenAIRequest(req: CanonicalRequest, model: string, target: OpenAITarget = {}): TranslatedRequest {
  // Only the first choice is translated back to another format, so more would be paid for and lost.
  refuseSeveralChoices(req.n, 'an OpenAI-format provider for a client of another format (only the first choice is translated back)');
  let droppedToolImages = false;
  const messages: Array<Record<string, unknown>> = [];
  if (req.system) messages.push({ role: 'system', content: req.system });
  for (const message of req.messages) {
    if (message.role === 'assistant') {
      const text = message.content.filter((p): p is TextPart => p.type === 'text').map((p) => p.text).join('');
      const calls = message.content.filter((p) => p.type === 'tool_call');
      messages.push({
        role: 'assistant',
        content: text === '' && calls.length ? null : text,
        ...(calls.length ? { tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })) } : {}),
      });
      continue;
    }
    const ordinary: Array<TextPart | ImagePart | FilePart> = [];
    for (const part of message.content) {
      if (part.type === 'tool_result') {
        const text = part.content.filter((p): p is TextPart => p.type === 'text').map((p) => p.text).join('');
        // A tool message has no error flag: the model is told in the text. Images cannot ride a tool message.
        messages.push({ role: 'tool', tool_call_id: part.toolCallId, content: part.isError ? `Error: ${text}` : text });
        if (part.content.some((p) => p.type === 'image')) droppedToolImages = true;
      } else if (part.type === 'text' || part.type === 'image' || part.type === 'file') {
        ordinary.push(part);
      }
    }
    if (ordinary.length) messages.push({ role: 'user', content: userContent(ordinary) });
  }
  const body: Record<string, unknown> = { model, messages };
  if (req.tools?.length) body.tools = req.tools.map((t) => ({ type: 'function', function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.parameters } }));
  if (req.toolChoice) body.tool_choice = req.toolChoice.type === 'tool' ? { type: 'function', function: { name: req.toolChoice.name } } : req.toolChoice.type;
  if (req.parallelToolCalls !== undefined && req.tools?.length) body.parallel_tool_calls = req.parallelToolCalls;
  if (req.maxTokens !== undefined) body[maxTokensField(target, model)] = req.maxTokens;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop?.length) body.stop = req.stop.slice(0, MAX_STOP_SEQUENCES);
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.presencePenalty !== undefined) body.presence_penalty = req.presencePenalty;
  if (req.frequencyPenalty !== undefined) body.frequency_penalty = req.frequencyPenalty;
  if (req.user) body.user = req.user;
  if (req.responseFormat) {
    body.response_format = req.responseFormat.type === 'json_schema'
      ? { type: 'json_schema', json_schema: { name: req.responseFormat.name, schema: req.responseFormat.schema, ...(req.responseFormat.strict ? { strict: true } : {}) } }
      : { type: req.responseFormat.type };
  }
  const warnings: string[] = [];
  if (req.topK !== undefined) warnings.push('top_k');
  if ((req.stop?.length ?? 0) > MAX_STOP_SEQUENCES) warnings.push(`stop (only the first ${MAX_STOP_SEQUENCES} sequences)`);
  if (droppedToolImages) warnings.push('images in tool results');
  applyReasoningEffort(body, req, model, target, warnings);
  if (req.stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return { body, warnings };
}
