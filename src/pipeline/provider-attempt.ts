import type { Secret, WireFormat } from '../core/index.js';
import { badRequest } from '../errors/index.js';
import type { CanonicalRequest, CanonicalResponse, StreamEvent, Usage } from '../formats/canonical.js';
import { betasLostInTranslation, codecs, NOT_SCANNED, providerCodecs, scanTopLevelObject, wantsReasoningText, type FormatCodec, type ProviderCodec, type ResponseContext } from '../formats/index.js';
import { estimateEmbeddingTokens } from '../formats/gemini/index.js';
import { parseSSE, type SSEMessage } from '../formats/sse.js';
import { invalidJson } from '../providers/index.js';
import type { Route } from '../router/model-catalog.js';
import { estimateInputTokens } from './token-estimate.js';
import { meterEvents, passthroughStream, primeStream, withReasoningText, withStartUsageEstimate, type Meter } from './streaming.js';
import type { GatewayRequest, ResponseBody } from './types.js';

export interface Prepared {
  body: ResponseBody;
  /** Parameters dropped in translation (x-meshgate-warnings). */
  warnings: string[];
  /** Content type of the response to the client. */
  contentType: string;
}

export interface AttemptContext {
  req: GatewayRequest;
  /** The validated request in canonical form (built once, shared by all attempts). */
  canonical: () => CanonicalRequest;
  meter: Meter;
  signal: AbortSignal;
  apiKey?: Secret;
}

const SSE = 'text/event-stream; charset=utf-8';
const JSON_TYPE = 'application/json';

/**
 * One chat attempt against one provider: pass-through when the provider speaks the client's format, translation
 * otherwise. Resolves once the response is safe to commit (non-streaming: fully read; streaming: first event
 * produced), so any failure before that point can fail over.
 */
export async function attemptChat(route: Route, ctx: AttemptContext): Promise<Prepared> {
  const { req, meter } = ctx;
  const { provider, upstreamModel } = route;
  const client = codecs[req.format];
  // A provider may serve a model in more than one format (OpenAI: Chat Completions and Responses): the client's own
  // is used when it is among them, so the request passes through.
  const format = provider.chatFormat(upstreamModel, req.format);
  const target = providerCodecs[format];
  const sameFormat = format === req.format;
  const context: ResponseContext = { requestId: req.id, request: req.body, upstreamFormat: format };

  let body: Record<string, unknown>;
  let warnings: string[] = [];
  let clientWantsUsage = true;
  if (sameFormat) {
    const pass = client.passthroughRequest(req.body, upstreamModel, req.stream);
    body = pass.body;
    clientWantsUsage = pass.clientWantsStreamUsage;
  } else {
    const canonical = ctx.canonical();
    const translated = target.requestFromCanonical({ ...canonical, stream: req.stream }, upstreamModel, {
      providerType: provider.type, structuredOutputModels: provider.config.structured_output_models,
    });
    body = translated.body;
    warnings = [...(canonical.warnings ?? []), ...translated.warnings];
  }

  // A client's Anthropic beta features go to an Anthropic provider; anywhere else they cannot be honoured: named.
  const passHeaders = req.anthropicBeta && format === 'anthropic' ? { 'anthropic-beta': req.anthropicBeta } : undefined;
  const lostBetas = req.anthropicBeta && !passHeaders ? betasLostInTranslation(req.anthropicBeta) : [];
  if (lostBetas.length) warnings = [...warnings, `anthropic-beta (${lostBetas.join(', ')})`];
  const upstream = await provider.call({ operation: 'chat', model: upstreamModel, stream: req.stream, body, format, signal: ctx.signal, apiKey: ctx.apiKey, requestId: req.id, passHeaders, keyTrail: meter.keys });
  if (upstream.warnings?.length) warnings = [...warnings, ...upstream.warnings];

  if (!req.stream) {
    if (sameFormat) {
      // The upstream's bytes go to the client unchanged; only the usage is read out of them.
      const bytes = await upstream.bytes();
      const usage = passthroughUsage(client, bytes, provider.id);
      if (usage) meter.usage = usage;
      meter.ttftMs = performance.now() - meter.startedAt;
      return { body: { kind: 'bytes', value: bytes }, warnings, contentType: JSON_TYPE };
    }
    const decoded = target.responseToCanonical(await upstream.json());
    const shown = wantsReasoningText(ctx.canonical().reasoning) ? decoded : { ...decoded, content: withoutReasoningText(decoded.content) };
    // Formats without a model name in the response (Bedrock Converse) answer as the model that was asked of them.
    const canonicalResponse = shown.model ? shown : { ...shown, model: upstreamModel };
    meter.usage = canonicalResponse.usage;
    meter.ttftMs = performance.now() - meter.startedAt;
    return { body: { kind: 'json', value: client.responseFromCanonical(canonicalResponse, context) }, warnings, contentType: JSON_TYPE };
  }

  const events = sameFormat
    ? passthroughStream(upstream.body, client, clientWantsUsage, meter, provider.id)
    : translatedStream((target.streamMessages ?? parseSSE)(upstream.body), target, route, ctx, context);
  try {
    return { body: { kind: 'sse', events: await primeStream(events) }, warnings, contentType: SSE };
  } catch (err) {
    upstream.abort();
    throw err;
  }
}

/**
 * A provider's stream in the client's format: decoded, metered (for usage and time to first token), reasoning text left
 * out where the client asked not to see it, an input estimate in the start event, encoded.
 */
function translatedStream(messages: AsyncIterable<SSEMessage>, target: ProviderCodec, route: Route, ctx: AttemptContext, context: ResponseContext): AsyncGenerator<string> {
  const { req, meter } = ctx;
  const decoded = meterEvents(withModel(target.decodeStream(messages), route.upstreamModel), meter);
  const shown = withReasoningText(decoded, wantsReasoningText(ctx.canonical().reasoning));
  const estimated = withStartUsageEstimate(shown, () => estimateInputTokens(ctx.canonical()));
  return codecs[req.format].encodeStream(estimated, { includeUsage: includeUsageRequested(req.format, req.body), context });
}

/** Reasoning parts without their text; a signature stays (a provider needs it back to continue), an empty part goes. */
function withoutReasoningText(content: CanonicalResponse['content']): CanonicalResponse['content'] {
  return content.flatMap((p): CanonicalResponse['content'] => (p.type !== 'reasoning' ? [p] : p.signature ? [{ ...p, text: '' }] : []));
}

/** A stream whose start names no model (Bedrock's) names the upstream model it was asked of. */
async function* withModel(events: AsyncIterable<StreamEvent>, model: string): AsyncGenerator<StreamEvent> {
  for await (const event of events) yield event.type === 'start' && !event.model ? { ...event, model } : event;
}

/**
 * Usage of a pass-through answer: its usage field scanned out of the bytes (the whole body is not parsed), else — no
 * usage object there, or bytes that do not end the JSON object — the body parsed whole, which refuses one that is not
 * JSON (a proxy's HTML error page) as it always did.
 */
const UTF8 = new TextDecoder();

function passthroughUsage(codec: FormatCodec, bytes: Uint8Array, providerId: string): Usage | undefined {
  const scanned = scanTopLevelObject(bytes, codec.usageField);
  if (scanned !== NOT_SCANNED) return codec.usageFromResponse({ [codec.usageField]: scanned });
  let body: unknown;
  try {
    body = JSON.parse(UTF8.decode(bytes)); // as fetch's text(): a byte-order mark is dropped
  } catch (err) {
    throw invalidJson(providerId, err);
  }
  return codec.usageFromResponse(body);
}

/** Whether an OpenAI client asked for the usage chunk; other formats always carry usage. */
export function includeUsageRequested(format: WireFormat, body: Record<string, unknown>): boolean {
  if (format !== 'openai') return true;
  const options = body.stream_options as { include_usage?: unknown } | undefined;
  return options?.include_usage === true;
}

/** Embeddings: OpenAI and Gemini formats, pass-through or translated. */
export async function attemptEmbeddings(route: Route, ctx: AttemptContext): Promise<Prepared> {
  const { req, meter } = ctx;
  const { provider, upstreamModel } = route;
  const format = provider.formatFor(upstreamModel);
  const client = codecs[req.format].embeddings;
  const target = format === 'bedrock' ? undefined : codecs[format].embeddings;
  if (!client || !target) throw badRequest(`Provider ${provider.id} has no embeddings endpoint.`, 'model');
  let body: Record<string, unknown>;
  const clientRequest = client.requestToCanonical(req.body, { model: req.model });
  if (format === req.format) {
    body = format === 'openai' ? { ...req.body, model: upstreamModel } : req.body;
  } else {
    body = target.requestFromCanonical(clientRequest, upstreamModel).body;
  }
  const upstream = await provider.call({ operation: 'embeddings', model: upstreamModel, stream: false, body, signal: ctx.signal, apiKey: ctx.apiKey, requestId: req.id, keyTrail: meter.keys });
  const json = await upstream.json();
  const canonical = target.responseToCanonical(json);
  // Gemini reports no usage for embeddings: estimate from the input rather than record zero.
  meter.usage = { inputTokens: canonical.usage.inputTokens || estimateEmbeddingTokens(clientRequest.input), outputTokens: 0 };
  const value = format === req.format ? json : client.responseFromCanonical({ ...canonical, encodingFormat: clientRequest.encodingFormat });
  return { body: { kind: 'json', value }, warnings: [], contentType: JSON_TYPE };
}

/** Anthropic count_tokens fields; everything else in a Messages body is dropped for counting. */
const ANTHROPIC_COUNT_FIELDS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking'];

function countResponse(format: WireFormat, tokens: number): Record<string, unknown> {
  if (format === 'gemini') return { totalTokens: tokens };
  // https://platform.openai.com/docs/api-reference/responses/input-tokens
  if (format === 'responses') return { object: 'response.input_tokens', input_tokens: tokens };
  return { input_tokens: tokens };
}

/**
 * Token counting (Anthropic `/v1/messages/count_tokens`, Gemini `:countTokens`, Responses `/v1/responses/input_tokens`):
 * asked of a provider that can count
 * (Anthropic, Gemini); for the others the result is the gateway's estimate, flagged by the caller.
 */
export async function attemptCountTokens(route: Route, ctx: AttemptContext): Promise<Prepared & { estimated: boolean }> {
  const { req } = ctx;
  const { provider, upstreamModel } = route;
  if (!provider.supports('count_tokens')) {
    return { body: { kind: 'json', value: countResponse(req.format, estimateInputTokens(ctx.canonical())) }, warnings: [], contentType: JSON_TYPE, estimated: true };
  }
  const format = provider.formatFor(upstreamModel);
  let body: Record<string, unknown>;
  if (format === 'anthropic') {
    const full = format === req.format ? { ...req.body, model: upstreamModel } : codecs.anthropic.requestFromCanonical(ctx.canonical(), upstreamModel).body;
    body = Object.fromEntries(Object.entries(full).filter(([key]) => ANTHROPIC_COUNT_FIELDS.includes(key)));
  } else {
    const generate = format === req.format ? req.body : codecs.gemini.requestFromCanonical(ctx.canonical(), upstreamModel).body;
    body = { generateContentRequest: { model: `models/${upstreamModel}`, ...generate } };
  }
  const upstream = await provider.call({ operation: 'count_tokens', model: upstreamModel, stream: false, body, signal: ctx.signal, apiKey: ctx.apiKey, requestId: req.id, keyTrail: ctx.meter.keys });
  const json = (await upstream.json()) as { input_tokens?: number; totalTokens?: number };
  const tokens = json.input_tokens ?? json.totalTokens ?? 0;
  return { body: { kind: 'json', value: countResponse(req.format, tokens) }, warnings: [], contentType: JSON_TYPE, estimated: false };
}
