import { z } from 'zod';
import { badRequest } from '../../errors/index.js';
import type { CanonicalMessage, CanonicalRequest, ContentPart, FilePart, ImagePart, ReasoningRequest, TextPart, ToolChoice } from '../canonical.js';
import type { TranslatedRequest, TranslationTarget } from '../codec.js';
import { MIN_THINKING_TOP_P, planThinking } from '../claude-thinking.js';
import { parseEffort } from '../reasoning.js';
import { zodIssueToBadRequest } from '../validation.js';
import { responseFormatFromAnthropic, structuredOutputForAnthropic } from './structured-output.js';
import { refuseSeveralChoices } from '../several-choices.js';

/** Anthropic Messages request (https://docs.anthropic.com/en/api/messages); partial schemas, unknown fields pass. */
const imageSource = z.union([
  z.object({ type: z.literal('base64'), media_type: z.string(), data: z.string() }).loose(),
  z.object({ type: z.literal('url'), url: z.string() }).loose(),
]);
const textBlock = z.object({ type: z.literal('text'), text: z.string() }).loose();
const imageBlock = z.object({ type: z.literal('image'), source: imageSource }).loose();
const block = z.object({ type: z.string() }).loose();
const messageSchema = z.object({ role: z.enum(['user', 'assistant']), content: z.union([z.string(), z.array(block)]) }).loose();
// Open on purpose (a new thinking type or output format must not break pass-through): what cannot be read is named.
const outputFormat = z.object({ type: z.string(), schema: z.record(z.string(), z.unknown()).optional() }).loose();

export const anthropicRequestSchema = z
  .object({
    model: z.string().min(1),
    max_tokens: z.number().int().positive(),
    messages: z.array(messageSchema),
    system: z.union([z.string(), z.array(textBlock)]).optional(),
    stream: z.boolean().optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().optional(),
    top_k: z.number().int().optional(),
    stop_sequences: z.array(z.string()).optional(),
    tools: z.array(z.object({ name: z.string(), description: z.string().optional(), input_schema: z.record(z.string(), z.unknown()).optional(), type: z.string().optional() }).loose()).optional(),
    tool_choice: z.object({ type: z.enum(['auto', 'any', 'tool', 'none']), name: z.string().optional(), disable_parallel_tool_use: z.boolean().optional() }).loose().optional(),
    metadata: z.object({ user_id: z.string().nullable().optional() }).loose().optional(),
    thinking: z.object({ type: z.string(), budget_tokens: z.number().int().positive().optional() }).loose().optional(),
    output_config: z.object({ format: outputFormat.optional(), effort: z.string().optional() }).loose().optional(),
    /** The structured-outputs beta's name for `output_config.format`. */
    output_format: outputFormat.optional(),
  })
  .loose();

/** Anthropic-only parameters: dropped (and named) when translating to another format. */
const ANTHROPIC_ONLY = ['service_tier', 'container', 'mcp_servers', 'context_management'];
/** `output_config` fields the canonical form carries; others are named in the warnings. */
const OUTPUT_CONFIG_FIELDS = ['format', 'effort'];

/** Anthropic requires max_tokens; a translated request that names none gets this (documented in the README). */
export const DEFAULT_MAX_TOKENS = 4096;

function image(source: z.infer<typeof imageSource>): ImagePart {
  return { type: 'image', source: source.type === 'base64' ? { kind: 'base64', mediaType: source.media_type, data: source.data } : { kind: 'url', url: source.url } };
}

function blocksToParts(content: string | Array<z.infer<typeof block>>, where: string): ContentPart[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return content.map((b, i): ContentPart => {
    const at = `${where}[${i}]`;
    switch (b.type) {
      case 'text':
        return { type: 'text', text: textBlock.parse(b).text };
      case 'image': {
        const parsed = imageBlock.safeParse(b);
        if (!parsed.success) throw badRequest(`Invalid image block: ${parsed.error.issues[0]!.message}`, `${at}.source`);
        return image(parsed.data.source);
      }
      case 'tool_use': {
        const use = b as { id?: string; name?: string; input?: unknown };
        if (typeof use.id !== 'string' || typeof use.name !== 'string') throw badRequest('tool_use blocks need id and name.', at);
        return { type: 'tool_call', id: use.id, name: use.name, arguments: JSON.stringify(use.input ?? {}) };
      }
      case 'tool_result': {
        const result = b as { tool_use_id?: string; content?: unknown; is_error?: boolean };
        if (typeof result.tool_use_id !== 'string') throw badRequest('tool_result blocks need tool_use_id.', `${at}.tool_use_id`);
        const inner = result.content === undefined ? [] : blocksToParts(result.content as string | Array<z.infer<typeof block>>, `${at}.content`);
        return { type: 'tool_result', toolCallId: result.tool_use_id, content: inner.filter((p): p is TextPart | ImagePart => p.type === 'text' || p.type === 'image'), ...(result.is_error ? { isError: true } : {}) };
      }
      case 'thinking': {
        const thinking = b as { thinking?: string; signature?: string };
        return { type: 'reasoning', text: thinking.thinking ?? '', ...(thinking.signature ? { signature: thinking.signature } : {}) };
      }
      case 'redacted_thinking':
        return { type: 'reasoning', text: '' };
      default:
        throw badRequest(`Content block type '${b.type}' is not supported when translating to another provider format.`, `${at}.type`, 'not_translatable');
    }
  });
}

type AnthropicRequest = z.infer<typeof anthropicRequestSchema>;

/**
 * `thinking` (enabled with a budget, disabled, adaptive) and `output_config.effort` as a canonical reasoning request;
 * values it cannot read are named in `warnings`.
 */
function reasoningFromAnthropic(request: AnthropicRequest, warnings: string[]): ReasoningRequest | undefined {
  const effort = parseEffort(request.output_config?.effort);
  if (request.output_config?.effort !== undefined && !effort) warnings.push('output_config.effort');
  const thinking = request.thinking;
  if (!thinking) return effort ? { effort } : undefined;
  if (thinking.type === 'disabled') return { enabled: false };
  if (thinking.type !== 'enabled' && thinking.type !== 'adaptive') {
    warnings.push('thinking');
    return effort ? { effort } : undefined;
  }
  return { enabled: true, includeText: true, ...(thinking.budget_tokens ? { budgetTokens: thinking.budget_tokens } : {}), ...(effort ? { effort } : {}) };
}

function toolChoice(choice: AnthropicRequest['tool_choice']): ToolChoice | undefined {
  if (!choice) return undefined;
  switch (choice.type) {
    case 'any': return { type: 'required' };
    case 'tool': return { type: 'tool', name: choice.name ?? '' };
    default: return { type: choice.type };
  }
}

export function anthropicRequestToCanonical(body: unknown): CanonicalRequest {
  const parsed = anthropicRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  const request = parsed.data;
  for (const [i, tool] of (request.tools ?? []).entries()) {
    if (tool.type && tool.type !== 'custom') throw badRequest(`Server tool '${tool.type}' is not supported when translating to another provider format.`, `tools[${i}].type`, 'not_translatable');
  }
  const messages: CanonicalMessage[] = request.messages.map((m, i) => ({ role: m.role, content: blocksToParts(m.content, `messages[${i}].content`) }));
  const system = typeof request.system === 'string' ? request.system : request.system?.map((b) => b.text).join('\n\n');
  const choice = toolChoice(request.tool_choice);
  const keys = Object.keys(body as object);
  const outputWarnings = Object.keys(request.output_config ?? {}).filter((key) => !OUTPUT_CONFIG_FIELDS.includes(key)).map((key) => `output_config.${key}`);
  const responseFormat = responseFormatFromAnthropic(request);
  const format = request.output_config?.format ?? request.output_format;
  if (format && !responseFormat) outputWarnings.push(request.output_config?.format ? 'output_config.format' : 'output_format');
  const reasoning = reasoningFromAnthropic(request, outputWarnings);
  return {
    model: request.model,
    ...(system ? { system } : {}),
    messages,
    ...(request.tools ? { tools: request.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema ?? { type: 'object', properties: {} } })) } : {}),
    ...(choice ? { toolChoice: choice } : {}),
    ...(request.tool_choice?.disable_parallel_tool_use ? { parallelToolCalls: false } : {}),
    maxTokens: request.max_tokens,
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.top_p !== undefined ? { topP: request.top_p } : {}),
    ...(request.top_k !== undefined ? { topK: request.top_k } : {}),
    ...(request.stop_sequences?.length ? { stop: request.stop_sequences } : {}),
    ...(request.metadata?.user_id ? { user: request.metadata.user_id } : {}),
    ...(responseFormat ? { responseFormat } : {}),
    ...(reasoning ? { reasoning } : {}),
    stream: request.stream === true,
    warnings: [...ANTHROPIC_ONLY.filter((key) => keys.includes(key)), ...outputWarnings],
  };
}

/** Anthropic tool ids must match ^[a-zA-Z0-9_-]+$; other ids are mapped deterministically so calls still pair with results. */
export const anthropicToolId = (id: string) => id.replace(/[^a-zA-Z0-9_-]/g, '_');

/**
 * A file as an Anthropic document block (https://docs.anthropic.com/en/docs/build-with-claude/pdf-support): a PDF
 * inline or by URL, plain text inline. Other media have no document form: refused by name.
 */
function documentBlock(part: FilePart): Record<string, unknown> {
  const title = part.filename ? { title: part.filename } : {};
  if (part.source.kind === 'url') return { type: 'document', source: { type: 'url', url: part.source.url }, ...title };
  const mediaType = part.source.mediaType.toLowerCase();
  if (mediaType === 'application/pdf') return { type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: part.source.data }, ...title };
  if (mediaType.startsWith('text/')) return { type: 'document', source: { type: 'text', media_type: 'text/plain', data: Buffer.from(part.source.data, 'base64').toString('utf8') }, ...title };
  throw badRequest(`Anthropic takes PDF and text documents, not '${part.source.mediaType}'.`, 'input', 'not_translatable');
}

function partsToBlocks(parts: ContentPart[]): Array<Record<string, unknown>> {
  const blocks: Array<Record<string, unknown>> = [];
  for (const part of parts) {
    switch (part.type) {
      case 'text':
        if (part.text !== '') blocks.push({ type: 'text', text: part.text });
        break;
      case 'image':
        blocks.push({ type: 'image', source: part.source.kind === 'base64' ? { type: 'base64', media_type: part.source.mediaType, data: part.source.data } : { type: 'url', url: part.source.url } });
        break;
      case 'file':
        blocks.push(documentBlock(part));
        break;
      case 'tool_call': {
        let input: unknown;
        try {
          input = part.arguments.trim() === '' ? {} : JSON.parse(part.arguments);
        } catch {
          throw badRequest(`Tool call ${part.id} has arguments that are not valid JSON; Anthropic needs a JSON object.`, 'messages');
        }
        blocks.push({ type: 'tool_use', id: anthropicToolId(part.id), name: part.name, input });
        break;
      }
      case 'tool_result':
        blocks.push({ type: 'tool_result', tool_use_id: anthropicToolId(part.toolCallId), content: partsToBlocks(part.content), ...(part.isError ? { is_error: true } : {}) });
        break;
      case 'reasoning':
        // Thinking blocks can only be replayed with the signature Anthropic gave them.
        if (part.signature) blocks.push({ type: 'thinking', thinking: part.text, signature: part.signature });
        break;
    }
  }
  return blocks;
}

export function canonicalToAnthropicRequest(req: CanonicalRequest, model: string, target: TranslationTarget = {}): TranslatedRequest {
  refuseSeveralChoices(req.n, 'Anthropic (one choice per request)');
  const warnings: string[] = [];
  const messages: Array<{ role: string; content: Array<Record<string, unknown>> }> = [];
  for (const message of req.messages) {
    const content = partsToBlocks(message.content);
    const last = messages[messages.length - 1];
    if (last && last.role === message.role) last.content.push(...content);
    else messages.push({ role: message.role, content });
  }
  // Anthropic refuses empty turns except a final assistant one (an empty reply in an OpenAI history, a Gemini turn
  // of thoughts only): dropped, and neighbours of one role that this brings together are merged.
  const kept: typeof messages = [];
  messages.forEach((m, i) => {
    if (m.content.length === 0 && !(i === messages.length - 1 && m.role === 'assistant')) return;
    const previous = kept[kept.length - 1];
    if (previous && previous.role === m.role) previous.content.push(...m.content);
    else kept.push(m);
  });
  messages.splice(0, messages.length, ...kept);
  const body: Record<string, unknown> = { model, max_tokens: req.maxTokens ?? DEFAULT_MAX_TOKENS, messages };
  if (req.system) body.system = req.system;
  if (req.tools?.length) body.tools = req.tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), input_schema: t.parameters }));
  if (req.toolChoice && (req.tools?.length || req.toolChoice.type === 'none')) {
    const choice = req.toolChoice.type === 'required' ? { type: 'any' } : req.toolChoice.type === 'tool' ? { type: 'tool', name: req.toolChoice.name } : { type: req.toolChoice.type };
    body.tool_choice = req.parallelToolCalls === false && choice.type !== 'none' ? { ...choice, disable_parallel_tool_use: true } : choice;
  } else if (req.parallelToolCalls === false && req.tools?.length) {
    // One tool call at a time, with the default choice: Anthropic says so through tool_choice.
    body.tool_choice = { type: 'auto', disable_parallel_tool_use: true };
  }
  if (req.temperature !== undefined) body.temperature = Math.min(1, req.temperature);
  if (req.temperature !== undefined && req.temperature > 1) warnings.push('temperature (clamped to 1)');
  // Current Claude models refuse temperature and top_p together; temperature is kept.
  if (req.topP !== undefined && req.temperature === undefined) body.top_p = req.topP;
  else if (req.topP !== undefined) warnings.push('top_p (temperature is set)');
  if (req.topK !== undefined) body.top_k = req.topK;
  if (req.stop?.length) body.stop_sequences = req.stop;
  if (req.user) body.metadata = { user_id: req.user };
  if (req.seed !== undefined) warnings.push('seed');
  if (req.presencePenalty !== undefined) warnings.push('presence_penalty');
  if (req.frequencyPenalty !== undefined) warnings.push('frequency_penalty');
  applyStructuredOutput(body, req, model, target);
  applyThinking(body, req, warnings);
  if (req.stream) body.stream = true;
  return { body, warnings };
}

/** JSON output: `output_config.format` where the model takes it, else the answer tool, called by force. */
function applyStructuredOutput(body: Record<string, unknown>, req: CanonicalRequest, model: string, target: TranslationTarget): void {
  const plan = structuredOutputForAnthropic(req.responseFormat, model, target.structuredOutputModels);
  if (!plan) return;
  if (plan.kind === 'output_format') {
    body.output_config = { format: plan.format };
    return;
  }
  const clientTools = (body.tools as unknown[] | undefined) ?? [];
  body.tools = [...clientTools, plan.tool];
  const choice = body.tool_choice as { type: string } | undefined;
  // A client that names its own tool keeps that choice; with tools of its own the model may call them or answer.
  if (choice?.type === 'tool') return;
  const parallel = choice && 'disable_parallel_tool_use' in choice ? { disable_parallel_tool_use: true } : {};
  body.tool_choice = clientTools.length && choice?.type !== 'none' ? { type: 'any', ...parallel } : { type: 'tool', name: plan.tool.name };
}

/**
 * Whether the request answers a tool call whose assistant turn has no thinking block first: Anthropic refuses to think
 * then, since the thinking that led to the call must be replayed with its signature (a history from another format
 * has none).
 */
function continuesUnsignedToolCall(messages: Array<{ role: string; content: Array<{ type: string }> }>): boolean {
  const last = messages.at(-1);
  if (last?.role !== 'user' || !last.content.some((b) => b.type === 'tool_result')) return false;
  const call = messages.at(-2);
  return call?.role === 'assistant' && !['thinking', 'redacted_thinking'].includes(call.content[0]?.type ?? '');
}

/**
 * Reasoning as `thinking` (see claude-thinking.ts for the budget rules); the sampling fields Claude refuses with
 * thinking are left out and named.
 */
function applyThinking(body: Record<string, unknown>, req: CanonicalRequest, warnings: string[]): void {
  const forcedTool = ['any', 'tool'].includes((body.tool_choice as { type?: string } | undefined)?.type ?? '');
  const unsignedToolCall = continuesUnsignedToolCall(body.messages as Array<{ role: string; content: Array<{ type: string }> }>);
  const plan = planThinking(req, { forcedTool, unsignedToolCall }, DEFAULT_MAX_TOKENS, 'Anthropic');
  if (plan.kind === 'unasked') return;
  if (plan.kind === 'disabled') {
    body.thinking = { type: 'disabled' };
    return;
  }
  if (plan.kind === 'refused') {
    warnings.push(plan.warning);
    return;
  }
  body.max_tokens = plan.maxTokens;
  body.thinking = { type: 'enabled', budget_tokens: plan.budget };
  for (const field of ['temperature', 'top_k'] as const) {
    if (body[field] === undefined) continue;
    delete body[field];
    warnings.push(`${field} (Anthropic takes none with thinking)`);
  }
  if (typeof body.top_p === 'number' && body.top_p < MIN_THINKING_TOP_P) {
    delete body.top_p;
    warnings.push(`top_p (Anthropic takes ${MIN_THINKING_TOP_P} to 1 with thinking)`);
  }
}
