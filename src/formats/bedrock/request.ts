import { badRequest } from '../../errors/index.js';
import type { CanonicalMessage, CanonicalRequest, ContentPart, FilePart, ImagePart, TextPart, ToolChoice } from '../canonical.js';
import { MIN_THINKING_TOP_P, planThinking } from '../claude-thinking.js';
import type { TranslatedRequest } from '../codec.js';
import { refuseSeveralChoices } from '../several-choices.js';

/**
 * Canonical request → Bedrock Converse / ConverseStream request body
 * (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html). The model id is in the URL,
 * not the body, and so is streaming (`/converse` vs `/converse-stream`).
 */

type Block = Record<string, unknown>;

/** Converse image formats (ImageBlock.format): the media type's subtype, JPEG spelled `jpeg`. */
const IMAGE_FORMATS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

/** Bedrock tool-use ids match `[a-zA-Z0-9_-]+` (at most 64): other characters become `_`, the same way every time. */
export function bedrockToolUseId(id: string): string {
  const cleaned = id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  return cleaned === '' ? 'tooluse' : cleaned;
}

const S3_URL = /^s3:\/\//;
const MEDIA_TYPE_OF_EXTENSION: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

/** An image as a Converse ImageBlock: inline bytes (base64 in JSON) or an S3 object; other URLs cannot be sent. */
function imageBlock(image: ImagePart, where: string): Block {
  if (image.source.kind === 'base64') {
    const format = IMAGE_FORMATS[image.source.mediaType.toLowerCase()];
    if (!format) throw badRequest(`Bedrock accepts PNG, JPEG, GIF and WebP images, not '${image.source.mediaType}'.`, where, 'not_translatable');
    return { image: { format, source: { bytes: image.source.data } } };
  }
  if (S3_URL.test(image.source.url)) {
    const extension = /\.([a-z0-9]+)$/i.exec(image.source.url)?.[1]?.toLowerCase() ?? '';
    const format = IMAGE_FORMATS[MEDIA_TYPE_OF_EXTENSION[extension] ?? ''] ?? 'jpeg';
    return { image: { format, source: { s3Location: { uri: image.source.url } } } };
  }
  throw badRequest('Bedrock takes images as inline bytes (a data: URL or base64) or as s3:// URIs, not as web URLs.', where, 'not_translatable');
}

const DOCUMENT_FORMATS: Record<string, string> = { 'application/pdf': 'pdf', 'text/plain': 'txt', 'text/markdown': 'md', 'text/csv': 'csv', 'text/html': 'html' };

/**
 * A file as a Converse DocumentBlock (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html):
 * inline bytes or an S3 object, in a format Converse names; a web URL it does not fetch. Its `name` may hold only
 * letters, digits, single spaces, hyphens, parentheses and square brackets.
 */
function documentBlock(part: FilePart, where: string): Block {
  const name = (part.filename ?? 'document').replace(/\.[a-z0-9]+$/i, '').replace(/[^A-Za-z0-9 ()[\]-]/g, '-').replace(/\s+/g, ' ').trim() || 'document';
  if (part.source.kind === 'base64') {
    const format = DOCUMENT_FORMATS[part.source.mediaType.toLowerCase()];
    if (!format) throw badRequest(`Bedrock takes PDF, text, Markdown, CSV and HTML documents, not '${part.source.mediaType}'.`, where, 'not_translatable');
    return { document: { format, name, source: { bytes: part.source.data } } };
  }
  if (S3_URL.test(part.source.url)) {
    const extension = /\.([a-z0-9]+)$/i.exec(part.source.url)?.[1]?.toLowerCase() ?? 'pdf';
    return { document: { format: extension, name, source: { s3Location: { uri: part.source.url } } } };
  }
  throw badRequest('Bedrock takes documents as inline bytes or as s3:// URIs, not as web URLs.', where, 'not_translatable');
}

function toolResultContent(content: Array<TextPart | ImagePart>, where: string): Block[] {
  const blocks = content.map((part) => (part.type === 'text' ? { text: part.text } : imageBlock(part, where)));
  // Converse needs at least one block in a toolResult; an empty result says so as text.
  return blocks.length > 0 ? blocks : [{ text: '' }];
}

function contentBlock(part: ContentPart, where: string): Block | undefined {
  switch (part.type) {
    // Converse refuses blank text blocks ("text field is blank"): an empty text part carries nothing anyway.
    case 'text': return part.text === '' ? undefined : { text: part.text };
    case 'image': return imageBlock(part, where);
    case 'file': return documentBlock(part, where);
    case 'tool_call': return { toolUse: { toolUseId: bedrockToolUseId(part.id), name: part.name, input: argumentsObject(part.arguments) } };
    case 'tool_result':
      return { toolResult: { toolUseId: bedrockToolUseId(part.toolCallId), content: toolResultContent(part.content, where), status: part.isError ? 'error' : 'success' } };
    // Reasoning can be replayed only with the signature the model gave it (Anthropic models on Bedrock check it).
    case 'reasoning':
      return part.signature ? { reasoningContent: { reasoningText: { text: part.text, signature: part.signature } } } : undefined;
  }
}

function argumentsObject(text: string): unknown {
  try {
    const value = text.trim() === '' ? {} : JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? value : { value };
  } catch {
    return { _raw: text };
  }
}

function message(m: CanonicalMessage, index: number): Block {
  const content = m.content.map((part, i) => contentBlock(part, `messages[${index}].content[${i}]`)).filter((b): b is Block => b !== undefined);
  return { role: m.role, content: content.length > 0 ? content : [{ text: ' ' }] };
}

function toolChoice(choice: ToolChoice | undefined): Block | undefined {
  switch (choice?.type) {
    case 'auto': return { auto: {} };
    case 'required': return { any: {} };
    case 'tool': return { tool: { name: choice.name } };
    default: return undefined;
  }
}

/** Converse RequestMetadata (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#bedrock-runtime_Converse-request-requestMetadata). */
const METADATA_KEY = /^[a-zA-Z0-9\s:_@$#=/+,.-]{1,256}$/;
const METADATA_VALUE = /^[a-zA-Z0-9\s:_@$#=/+,.-]{0,256}$/;

const hasToolBlocks = (messages: CanonicalMessage[]) => messages.some((m) => m.content.some((p) => p.type === 'tool_call' || p.type === 'tool_result'));

/**
 * Claude models on Bedrock that take extended thinking: Claude 3.7 and every Claude from 4 on, by model id, inference
 * profile (`us.anthropic.…`) or an ARN that names one (https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html).
 * Older Claude models (3.5, 3, Instant, v2) refuse the `thinking` field.
 */
const THINKING_CLAUDE = /anthropic\.claude-(?!3-(?:5-|haiku|sonnet|opus)|instant|v2)/;

/** Output limit sent with thinking when the client gave none (Claude's default on Anthropic's API, as the Anthropic codec sends). */
const DEFAULT_THINKING_MAX_TOKENS = 4_096;

/** Whether the last user turn answers a tool call whose assistant turn does not start with signed reasoning. */
function continuesUnsignedToolCall(messages: CanonicalMessage[]): boolean {
  const last = messages.at(-1);
  if (last?.role !== 'user' || !last.content.some((p) => p.type === 'tool_result')) return false;
  const call = messages.at(-2);
  const first = call?.content[0];
  return call?.role === 'assistant' && !(first?.type === 'reasoning' && first.signature);
}

/**
 * Reasoning for a Claude model as Converse takes it: Anthropic's own `thinking` object in
 * `additionalModelRequestFields` (same budget rules as Anthropic's API: claude-thinking.ts), with `maxTokens` above
 * the budget and without the sampling settings Claude refuses with thinking. Other models: named as dropped.
 */
function applyReasoning(body: Record<string, unknown>, req: CanonicalRequest, model: string, warnings: string[]): void {
  if (!req.reasoning) return;
  if (!THINKING_CLAUDE.test(model)) {
    warnings.push('reasoning (this Bedrock model takes no extended thinking)');
    return;
  }
  const choice = (body.toolConfig as { toolChoice?: Record<string, unknown> } | undefined)?.toolChoice;
  const forcedTool = choice !== undefined && ('any' in choice || 'tool' in choice);
  const plan = planThinking(req, { forcedTool, unsignedToolCall: continuesUnsignedToolCall(req.messages) }, DEFAULT_THINKING_MAX_TOKENS, 'Claude');
  if (plan.kind === 'unasked') return;
  if (plan.kind === 'refused') {
    warnings.push(plan.warning);
    return;
  }
  body.additionalModelRequestFields = { thinking: plan.kind === 'disabled' ? { type: 'disabled' } : { type: 'enabled', budget_tokens: plan.budget } };
  if (plan.kind === 'disabled') return;
  const inference = (body.inferenceConfig ??= {}) as Record<string, unknown>;
  inference.maxTokens = plan.maxTokens;
  if (inference.temperature !== undefined) {
    delete inference.temperature;
    warnings.push('temperature (Claude takes none with thinking)');
  }
  if (typeof inference.topP === 'number' && inference.topP < MIN_THINKING_TOP_P) {
    delete inference.topP;
    warnings.push(`top_p (Claude takes ${MIN_THINKING_TOP_P} to 1 with thinking)`);
  }
}

export function canonicalToBedrockRequest(req: CanonicalRequest, model = ''): TranslatedRequest {
  refuseSeveralChoices(req.n, 'Bedrock Converse (one choice per request)');
  const warnings: string[] = [];
  const body: Record<string, unknown> = { messages: req.messages.map(message) };
  if (req.system) body.system = [{ text: req.system }];

  const inference: Record<string, unknown> = {};
  if (req.maxTokens !== undefined) inference.maxTokens = req.maxTokens;
  if (req.temperature !== undefined) inference.temperature = req.temperature;
  if (req.topP !== undefined) inference.topP = req.topP;
  if (req.stop?.length) inference.stopSequences = req.stop;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;

  // Converse has no "none": without tool blocks in the history the tools are simply not sent; with them Bedrock
  // requires the toolConfig, so the tools stay and the choice is named as dropped.
  const toolsDisabled = req.toolChoice?.type === 'none';
  if (req.tools?.length && !(toolsDisabled && !hasToolBlocks(req.messages))) {
    const choice = toolChoice(req.toolChoice);
    body.toolConfig = {
      tools: req.tools.map((t) => ({ toolSpec: { name: t.name, ...(t.description ? { description: t.description } : {}), inputSchema: { json: t.parameters } } })),
      ...(choice ? { toolChoice: choice } : {}),
    };
    if (toolsDisabled) warnings.push('tool_choice');
  }
  if (req.metadata && Object.keys(req.metadata).length > 0) {
    // requestMetadata takes a restricted alphabet (keys 1-256, values 0-256 characters); other entries would get the
    // whole request refused, so they are left out and named.
    const entries = Object.entries(req.metadata);
    const fit = entries.filter(([key, value]) => METADATA_KEY.test(key) && METADATA_VALUE.test(value));
    if (fit.length > 0) body.requestMetadata = Object.fromEntries(fit);
    if (fit.length < entries.length) warnings.push('metadata');
  }

  // Model-specific parameters live in additionalModelRequestFields, whose names differ per model family.
  if (req.topK !== undefined) warnings.push('top_k');
  if (req.seed !== undefined) warnings.push('seed');
  if (req.presencePenalty !== undefined) warnings.push('presence_penalty');
  if (req.frequencyPenalty !== undefined) warnings.push('frequency_penalty');
  if (req.responseFormat && req.responseFormat.type !== 'text') warnings.push('response_format');
  applyReasoning(body, req, model, warnings);
  return { body, warnings };
}
