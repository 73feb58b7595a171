import { UpstreamError } from '../../errors/index.js';
import type { CanonicalResponse, ReasoningPart, StopReason, TextPart, ToolCallPart, Usage } from '../canonical.js';
import type { ResponseContext } from '../codec.js';

/** Responses `usage` (https://platform.openai.com/docs/api-reference/responses/object#responses/object-usage). */
export interface ResponsesUsage {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number | null } | null;
  output_tokens_details?: { reasoning_tokens?: number | null } | null;
}

export function usageFromResponses(usage: ResponsesUsage | null | undefined): Usage | undefined {
  if (!usage || typeof usage.input_tokens !== 'number') return undefined;
  const cached = usage.input_tokens_details?.cached_tokens;
  const reasoning = usage.output_tokens_details?.reasoning_tokens;
  return {
    inputTokens: usage.input_tokens,
    outputTokens: usage.output_tokens ?? 0,
    ...(cached ? { cachedInputTokens: cached } : {}),
    ...(reasoning ? { reasoningTokens: reasoning } : {}),
  };
}

export function usageToResponses(usage: Usage): Record<string, unknown> {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens ?? 0 },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

interface ResponseStatus {
  status: 'completed' | 'incomplete' | 'failed';
  incomplete_details: { reason: string } | null;
  error: { code: string; message: string } | null;
}

/**
 * `status`, `incomplete_details` and `error` of a response that ended for `reason`. A provider that ended its answer
 * with an error of its own (Gemini's MALFORMED_FUNCTION_CALL, OTHER, …) gives a failed response, as OpenAI reports one.
 */
export function statusOf(reason: StopReason): ResponseStatus {
  if (reason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, error: null };
  if (reason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' }, error: null };
  if (reason === 'error') return { status: 'failed', incomplete_details: null, error: { code: 'server_error', message: 'The provider ended the response with an error.' } };
  return { status: 'completed', incomplete_details: null, error: null };
}

/** A response's stop reason read back from its status and output (Responses has no finish_reason). */
export function stopReasonFromResponses(status: string | undefined, incomplete: { reason?: string } | null | undefined, hasToolCalls: boolean): StopReason {
  if (status === 'incomplete') return incomplete?.reason === 'content_filter' ? 'content_filter' : 'length';
  if (status === 'failed') return 'error';
  return hasToolCalls ? 'tool_calls' : 'stop';
}

/** Ids of the gateway's own responses: `resp_` and the request id, so a stored response names its usage record. */
export const responseIdFor = (requestId: string | undefined, fallback: string) =>
  requestId ? `resp_${requestId.replace(/^req_/, '')}` : fallback.startsWith('resp_') ? fallback : `resp_${fallback.replace(/[^A-Za-z0-9]/g, '')}`;

/** Item ids derived from the response id, stable for one response (`msg_…_0`, `fc_…_1`, `rs_…_2`). */
export const itemId = (prefix: 'msg' | 'fc' | 'rs', responseId: string, outputIndex: number) => `${prefix}_${responseId.replace(/^resp_/, '')}_${outputIndex}`;

export const messageItem = (id: string, text: string, status: 'in_progress' | 'completed' = 'completed') =>
  ({ id, type: 'message', status, role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] });

export const functionCallItem = (id: string, call: { id: string; name: string; arguments: string }, status: 'in_progress' | 'completed' = 'completed') =>
  ({ id, type: 'function_call', status, call_id: call.id, name: call.name, arguments: call.arguments });

/**
 * Another provider's reasoning signature (Anthropic's thinking signature) reaches a Responses client inside
 * `encrypted_content`, tagged with where it came from, so that when the client sends it back it goes only to a provider
 * of that format — never to OpenAI, which would refuse content it did not encrypt, nor to another provider.
 */
const FOREIGN_REASONING = /^mg1\.([a-z]+)\.([\s\S]*)$/;
export const foreignReasoning = (format: string, signature: string) => `mg1.${format}.${signature}`;
/** The origin format and signature of tagged `encrypted_content`; undefined for OpenAI's own. */
export function parseForeignReasoning(encrypted: string): { format: string; signature: string } | undefined {
  const match = FOREIGN_REASONING.exec(encrypted);
  return match ? { format: match[1]!, signature: match[2]! } : undefined;
}

export const reasoningItem = (id: string, text: string, encrypted?: string) =>
  ({ id, type: 'reasoning', summary: text ? [{ type: 'summary_text', text }] : [], ...(encrypted ? { encrypted_content: encrypted } : {}) });

/** `encrypted_content` for a canonical signature that came from `upstreamFormat` (undefined: the provider's own). */
export const encryptedFrom = (signature: string | undefined, upstreamFormat: string | undefined) =>
  signature && upstreamFormat !== 'responses' ? foreignReasoning(upstreamFormat ?? 'unknown', signature) : signature;

/**
 * The request parameters a Response object repeats (`ResponseContext.request` is the client's body). OpenAI echoes
 * them so a client can read back what produced the answer; defaults are OpenAI's documented ones.
 */
export function echoedParameters(request: Record<string, unknown> | undefined): Record<string, unknown> {
  const r = request ?? {};
  return {
    instructions: r.instructions ?? null,
    max_output_tokens: r.max_output_tokens ?? null,
    metadata: r.metadata ?? {},
    parallel_tool_calls: r.parallel_tool_calls ?? true,
    previous_response_id: r.previous_response_id ?? null,
    reasoning: { effort: (r.reasoning as { effort?: unknown } | undefined)?.effort ?? null, summary: (r.reasoning as { summary?: unknown } | undefined)?.summary ?? null },
    store: r.store ?? true,
    temperature: r.temperature ?? 1,
    text: r.text ?? { format: { type: 'text' } },
    tool_choice: r.tool_choice ?? 'auto',
    tools: r.tools ?? [],
    top_p: r.top_p ?? 1,
    truncation: r.truncation ?? 'disabled',
    user: r.user ?? null,
    background: false,
    service_tier: 'default',
  };
}

/** The output items of a canonical answer, in order: reasoning, message (consecutive text joined), function calls. */
export function outputItems(responseId: string, content: CanonicalResponse['content'], upstreamFormat?: string): Array<Record<string, unknown>> {
  const items: Array<Record<string, unknown>> = [];
  let text: string | undefined;
  const flushText = () => {
    if (text === undefined) return;
    items.push(messageItem(itemId('msg', responseId, items.length), text));
    text = undefined;
  };
  for (const part of content) {
    if (part.type === 'text') {
      text = (text ?? '') + part.text;
      continue;
    }
    flushText();
    if (part.type === 'reasoning') items.push(reasoningItem(itemId('rs', responseId, items.length), part.text, encryptedFrom(part.signature, upstreamFormat)));
    else items.push(functionCallItem(itemId('fc', responseId, items.length), part));
  }
  flushText();
  return items;
}

/** A complete Response object (`object: "response"`) from a canonical answer. */
export function canonicalToResponsesResponse(res: CanonicalResponse, ctx: ResponseContext = {}): Record<string, unknown> {
  const id = responseIdFor(ctx.requestId, res.id);
  return {
    id,
    object: 'response',
    created_at: res.created ?? Math.floor(Date.now() / 1000),
    ...statusOf(res.stopReason),
    model: res.model,
    output: outputItems(id, res.content, ctx.upstreamFormat),
    usage: usageToResponses(res.usage),
    ...echoedParameters(ctx.request),
  };
}

interface ResponsesOutputItem {
  type?: string;
  content?: Array<{ type?: string; text?: string; refusal?: string }>;
  call_id?: string;
  name?: string;
  arguments?: string;
  summary?: Array<{ text?: string }>;
  encrypted_content?: string | null;
}

interface ResponsesObject {
  object?: string;
  id?: string;
  model?: string;
  created_at?: number;
  status?: string;
  incomplete_details?: { reason?: string } | null;
  error?: { code?: string; message?: string } | null;
  output?: ResponsesOutputItem[];
  usage?: ResponsesUsage | null;
}

/** The canonical parts of one output item (built-in tool calls an OpenAI provider ran on its own are not content). */
export function partsOfItem(item: ResponsesOutputItem): Array<TextPart | ToolCallPart | ReasoningPart> {
  switch (item.type) {
    case 'message':
      return (item.content ?? []).map((c) => ({ type: 'text' as const, text: c.type === 'refusal' ? c.refusal ?? '' : c.text ?? '' })).filter((p) => p.text !== '');
    case 'function_call':
      return [{ type: 'tool_call', id: item.call_id ?? '', name: item.name ?? '', arguments: item.arguments || '{}' }];
    case 'reasoning': {
      const text = [...(item.content ?? []), ...(item.summary ?? [])].map((s) => s.text ?? '').join('\n');
      return [{ type: 'reasoning', text, ...(item.encrypted_content ? { signature: item.encrypted_content } : {}) }];
    }
    default:
      return [];
  }
}

/** An upstream Response object → canonical. A failed response is an upstream error (the router may fail over). */
export function responsesResponseToCanonical(body: unknown, providerId = 'responses'): CanonicalResponse {
  const response = body as ResponsesObject;
  if (!response || response.object !== 'response' && !Array.isArray(response.output)) {
    throw new UpstreamError(providerId, 'Upstream answer is not a Responses API response object', { retryable: false, upstreamStatus: 502 });
  }
  if (response.status === 'failed') {
    throw new UpstreamError(providerId, `Upstream response failed: ${response.error?.message ?? 'unknown error'}`, { retryable: true, upstreamStatus: 502 });
  }
  const content = (response.output ?? []).flatMap(partsOfItem);
  return {
    id: response.id ?? 'resp_unknown',
    model: response.model ?? '',
    content,
    stopReason: stopReasonFromResponses(response.status, response.incomplete_details, content.some((p) => p.type === 'tool_call')),
    usage: usageFromResponses(response.usage) ?? { inputTokens: 0, outputTokens: 0 },
    ...(response.created_at ? { created: response.created_at } : {}),
  };
}
