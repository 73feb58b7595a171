/**
 * The mock's replies in each provider's real wire format: whole JSON responses, SSE event sequences (as the list of
 * SSE frames the provider would send, one per event), and error bodies.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { argumentPieces, pieces, type MockUsage, type ProviderFormat, type Reply } from './conversation.js';

let counter = 0;
const nextId = (prefix: string) => `${prefix}${Date.now().toString(36)}${(counter++).toString(36).padStart(4, '0')}`;

const frame = (data: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;

function openaiUsage(u: MockUsage) {
  return {
    prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cached, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: u.reasoning, audio_tokens: 0 },
  };
}

function anthropicUsage(u: MockUsage, output = u.output) {
  return { input_tokens: u.input - u.cached, output_tokens: output, cache_read_input_tokens: u.cached, cache_creation_input_tokens: 0 };
}

/** Gemini counts thoughts outside candidatesTokenCount. */
function geminiUsage(u: MockUsage) {
  return {
    promptTokenCount: u.input, candidatesTokenCount: u.output - u.reasoning, totalTokenCount: u.input + u.output,
    ...(u.cached ? { cachedContentTokenCount: u.cached } : {}), ...(u.reasoning ? { thoughtsTokenCount: u.reasoning } : {}),
  };
}

/** Bedrock counts cache reads/writes outside inputTokens; totalTokens is the sum of all four. */
function bedrockUsage(u: MockUsage) {
  const input = u.input - u.cached;
  return { inputTokens: input, outputTokens: u.output, totalTokens: u.input + u.output, cacheReadInputTokens: u.cached, cacheWriteInputTokens: 0 };
}

const bedrockStop = (reply: Reply) => (reply.kind === 'text' ? (reply.stop === 'length' ? 'max_tokens' : 'end_turn') : 'tool_use');

const eventStream = new EventStreamCodec(toUtf8, fromUtf8);

/** One AWS event-stream message, with the padding field `p` real Bedrock events carry (its length varies). */
export function bedrockEventMessage(kind: 'event' | 'exception', type: string, payload: Record<string, unknown>): Uint8Array {
  return eventStream.encode({
    headers: {
      ':message-type': { type: 'string', value: kind },
      [kind === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
    },
    body: fromUtf8(JSON.stringify(kind === 'event' ? { ...payload, p: 'abcdefghijklmnopqrstuvwxyzABCDEF'.slice(0, 4 + (counter++ % 20)) } : payload)),
  });
}

/** Reasoning returned as text: Anthropic thinking blocks (signed) and Gemini thought parts. */
const SIGNATURE = 'mock-signature';
const visibleReasoning = (reply: Reply) => (reply.reasoning?.visible ? reply.reasoning.text : undefined);
const signatureOf = (reply: Reply) => reply.reasoning?.signature ?? SIGNATURE;

function responsesUsage(u: MockUsage) {
  return { input_tokens: u.input, input_tokens_details: { cached_tokens: u.cached }, output_tokens: u.output, output_tokens_details: { reasoning_tokens: u.reasoning }, total_tokens: u.input + u.output };
}

/** A Responses API `response` object (https://platform.openai.com/docs/api-reference/responses/object), fields as OpenAI sends them. */
function responsesObject(id: string, model: string, request: Record<string, any>, status: string, output: unknown[], usage: unknown) { // eslint-disable-line @typescript-eslint/no-explicit-any
  return {
    id, object: 'response', created_at: Math.floor(Date.now() / 1000), status, background: false, error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: request.instructions ?? null, max_output_tokens: request.max_output_tokens ?? null, max_tool_calls: null, model, output,
    parallel_tool_calls: request.parallel_tool_calls ?? true, previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: null }, service_tier: 'default', store: request.store ?? true,
    temperature: request.temperature ?? 1, text: request.text ?? { format: { type: 'text' }, verbosity: 'medium' }, tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [], top_logprobs: 0, top_p: request.top_p ?? 1, truncation: 'disabled', usage, user: null, metadata: request.metadata ?? {},
  };
}

/**
 * A reasoning item as OpenAI returns it: its summary when one was asked for (or the text is visible), and its opaque
 * state as `encrypted_content` when the mock was given one (what `include: ["reasoning.encrypted_content"]` returns).
 */
function responsesReasoning(id: string, reply: Reply) {
  const text = visibleReasoning(reply);
  return { id, type: 'reasoning', summary: text ? [{ type: 'summary_text', text }] : [], ...(reply.reasoning?.signature ? { encrypted_content: reply.reasoning.signature } : {}) };
}

function responsesOutput(reply: Reply, ids: { message: string; call: string; callId: string }, done: boolean) {
  if (reply.kind === 'text') {
    return { id: ids.message, type: 'message', status: done ? 'completed' : 'in_progress', role: 'assistant', content: done ? [{ type: 'output_text', annotations: [], logprobs: [], text: reply.text }] : [] };
  }
  return { id: ids.call, type: 'function_call', status: done ? 'completed' : 'in_progress', arguments: done ? JSON.stringify(reply.arguments) : '', call_id: ids.callId, name: reply.name };
}

export function outputPieceCount(reply: Reply): number {
  return reply.kind === 'text' ? pieces(reply.text).length : argumentPieces(reply.arguments).length;
}

export function jsonResponse(format: ProviderFormat, model: string, reply: Reply, usage: MockUsage, request: Record<string, any> = {}): unknown { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (format === 'responses') {
    const output = responsesOutput(reply, { message: nextId('msg_'), call: nextId('fc_'), callId: nextId('call_') }, true);
    const reasoning = reply.reasoning ? [responsesReasoning(nextId('rs_'), reply)] : [];
    return responsesObject(nextId('resp_'), model, request, reply.kind === 'text' && reply.stop === 'length' ? 'incomplete' : 'completed', [...reasoning, output], responsesUsage(usage));
  }
  if (format === 'openai') {
    const callId = nextId('call_');
    return {
      id: nextId('chatcmpl-'), object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, system_fingerprint: 'fp_mock',
      choices: [{
        index: 0, logprobs: null,
        message: reply.kind === 'text'
          ? { role: 'assistant', content: reply.text, refusal: null, annotations: [] }
          : { role: 'assistant', content: null, refusal: null, tool_calls: [{ id: callId, type: 'function', function: { name: reply.name, arguments: JSON.stringify(reply.arguments) } }] },
        finish_reason: reply.kind === 'text' ? reply.stop : 'tool_calls',
      }],
      usage: openaiUsage(usage),
    };
  }
  if (format === 'anthropic') {
    return {
      id: nextId('msg_'), type: 'message', role: 'assistant', model,
      content: [
        ...(visibleReasoning(reply) ? [{ type: 'thinking', thinking: visibleReasoning(reply), signature: signatureOf(reply) }] : []),
        ...(reply.kind === 'text' ? [{ type: 'text', text: reply.text }] : [{ type: 'tool_use', id: nextId('toolu_'), name: reply.name, input: reply.arguments }]),
      ],
      stop_reason: reply.kind === 'text' ? (reply.stop === 'length' ? 'max_tokens' : 'end_turn') : 'tool_use',
      stop_sequence: null,
      usage: anthropicUsage(usage),
    };
  }
  if (format === 'bedrock') {
    const reasoning = visibleReasoning(reply) ? [{ reasoningContent: { reasoningText: { text: visibleReasoning(reply), signature: signatureOf(reply) } } }] : [];
    const answer = reply.kind === 'text' ? [{ text: reply.text }] : [{ toolUse: { toolUseId: nextId('tooluse_'), name: reply.name, input: reply.arguments } }];
    return {
      output: { message: { role: 'assistant', content: [...reasoning, ...answer] } },
      stopReason: bedrockStop(reply),
      usage: bedrockUsage(usage),
      metrics: { latencyMs: 12 },
    };
  }
  return {
    candidates: [{
      content: {
        role: 'model',
        parts: [
          ...(visibleReasoning(reply) ? [{ text: visibleReasoning(reply), thought: true }] : []),
          ...(reply.kind === 'text' ? [{ text: reply.text }] : [{ functionCall: { name: reply.name, args: reply.arguments } }]),
        ],
      },
      finishReason: reply.kind === 'text' && reply.stop === 'length' ? 'MAX_TOKENS' : 'STOP', index: 0,
    }],
    usageMetadata: geminiUsage(usage),
    modelVersion: model,
    responseId: nextId('resp_'),
  };
}

/** The ConverseStream event-stream messages for this reply, in order (text blocks have no contentBlockStart). */
export function bedrockStreamFrames(reply: Reply, usage: MockUsage): Uint8Array[] {
  const frames = [bedrockEventMessage('event', 'messageStart', { role: 'assistant' })];
  // Claude's thinking first (block 0): its text in reasoningContent deltas, then its signature in a delta of its own.
  const thinking = visibleReasoning(reply);
  if (thinking) {
    for (const piece of pieces(thinking)) frames.push(bedrockEventMessage('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text: piece } } }));
    frames.push(bedrockEventMessage('event', 'contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: signatureOf(reply) } } }));
    frames.push(bedrockEventMessage('event', 'contentBlockStop', { contentBlockIndex: 0 }));
  }
  const index = thinking ? 1 : 0;
  if (reply.kind === 'text') {
    for (const piece of pieces(reply.text)) frames.push(bedrockEventMessage('event', 'contentBlockDelta', { contentBlockIndex: index, delta: { text: piece } }));
  } else {
    frames.push(bedrockEventMessage('event', 'contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId: nextId('tooluse_'), name: reply.name } } }));
    for (const piece of argumentPieces(reply.arguments)) frames.push(bedrockEventMessage('event', 'contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: piece } } }));
  }
  frames.push(bedrockEventMessage('event', 'contentBlockStop', { contentBlockIndex: index }));
  frames.push(bedrockEventMessage('event', 'messageStop', { stopReason: bedrockStop(reply) }));
  frames.push(bedrockEventMessage('event', 'metadata', { usage: bedrockUsage(usage), metrics: { latencyMs: 12 } }));
  return frames;
}

/** The SSE frames a provider sends for this reply, in order (Bedrock: event-stream messages). */
export function streamFrames(format: ProviderFormat, model: string, reply: Reply, usage: MockUsage, opts: { includeUsage: boolean; request?: Record<string, any> }): Array<string | Uint8Array> { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (format === 'bedrock') return bedrockStreamFrames(reply, usage);
  if (format === 'responses') return responsesFrames(model, reply, usage, opts.request ?? {});
  if (format === 'openai') {
    const base = { id: nextId('chatcmpl-'), object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, system_fingerprint: 'fp_mock' };
    const chunk = (delta: unknown, finish: string | null = null) => frame({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(opts.includeUsage ? { usage: null } : {}) });
    const frames = [chunk({ role: 'assistant', content: '', refusal: null })];
    if (reply.kind === 'text') {
      for (const piece of pieces(reply.text)) frames.push(chunk({ content: piece }));
      frames.push(chunk({}, reply.stop));
    } else {
      frames.push(chunk({ tool_calls: [{ index: 0, id: nextId('call_'), type: 'function', function: { name: reply.name, arguments: '' } }] }));
      for (const piece of argumentPieces(reply.arguments)) frames.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
      frames.push(chunk({}, 'tool_calls'));
    }
    if (opts.includeUsage) frames.push(frame({ ...base, choices: [], usage: openaiUsage(usage) }));
    frames.push('data: [DONE]\n\n');
    return frames;
  }
  if (format === 'anthropic') {
    const frames = [
      frame({ type: 'message_start', message: { id: nextId('msg_'), type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: anthropicUsage(usage, 1) } }, 'message_start'),
    ];
    const thinking = visibleReasoning(reply);
    if (thinking) {
      frames.push(frame({ type: 'content_block_start', index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }, 'content_block_start'));
      for (const piece of pieces(thinking)) frames.push(frame({ type: 'content_block_delta', index: 0, delta: { type: 'thinking_delta', thinking: piece } }, 'content_block_delta'));
      frames.push(frame({ type: 'content_block_delta', index: 0, delta: { type: 'signature_delta', signature: signatureOf(reply) } }, 'content_block_delta'));
      frames.push(frame({ type: 'content_block_stop', index: 0 }, 'content_block_stop'));
    }
    const index = thinking ? 1 : 0;
    if (reply.kind === 'text') {
      frames.push(frame({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }, 'content_block_start'));
      frames.push(frame({ type: 'ping' }, 'ping'));
      for (const piece of pieces(reply.text)) frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }, 'content_block_delta'));
    } else {
      frames.push(frame({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: nextId('toolu_'), name: reply.name, input: {} } }, 'content_block_start'));
      frames.push(frame({ type: 'ping' }, 'ping'));
      for (const piece of argumentPieces(reply.arguments)) frames.push(frame({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: piece } }, 'content_block_delta'));
    }
    frames.push(frame({ type: 'content_block_stop', index }, 'content_block_stop'));
    const stop = reply.kind === 'text' ? (reply.stop === 'length' ? 'max_tokens' : 'end_turn') : 'tool_use';
    frames.push(frame({ type: 'message_delta', delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: usage.output } }, 'message_delta'));
    frames.push(frame({ type: 'message_stop' }, 'message_stop'));
    return frames;
  }
  const id = nextId('resp_');
  const chunk = (parts: unknown[], extra: Record<string, unknown> = {}) =>
    frame({ candidates: [{ content: { role: 'model', parts }, index: 0, ...extra }], usageMetadata: geminiUsage({ ...usage, output: 0, reasoning: 0 }), modelVersion: model, responseId: id });
  const thought = visibleReasoning(reply) ? [chunk([{ text: visibleReasoning(reply), thought: true }])] : [];
  if (reply.kind === 'tool_call') {
    return [...thought, frame({ candidates: [{ content: { role: 'model', parts: [{ functionCall: { name: reply.name, args: reply.arguments } }] }, finishReason: 'STOP', index: 0 }], usageMetadata: geminiUsage(usage), modelVersion: model, responseId: id })];
  }
  const words = pieces(reply.text);
  return [...thought, ...words.map((piece, i) =>
    i === words.length - 1
      ? frame({ candidates: [{ content: { role: 'model', parts: [{ text: piece }] }, finishReason: reply.stop === 'length' ? 'MAX_TOKENS' : 'STOP', index: 0 }], usageMetadata: geminiUsage(usage), modelVersion: model, responseId: id })
      : chunk([{ text: piece }]),
  )];
}

/** The event sequence OpenAI sends (https://platform.openai.com/docs/api-reference/responses-streaming), numbered from 0. */
function responsesFrames(model: string, reply: Reply, usage: MockUsage, request: Record<string, any>): string[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  let sequence = 0;
  const event = (type: string, fields: Record<string, unknown>) => frame({ type, sequence_number: sequence++, ...fields }, type);
  const id = nextId('resp_');
  const ids = { message: nextId('msg_'), call: nextId('fc_'), callId: nextId('call_') };
  const status = reply.kind === 'text' && reply.stop === 'length' ? 'incomplete' : 'completed';
  const frames = [
    event('response.created', { response: responsesObject(id, model, request, 'in_progress', [], null) }),
    event('response.in_progress', { response: responsesObject(id, model, request, 'in_progress', [], null) }),
  ];
  const finished: unknown[] = [];
  if (reply.reasoning) {
    const reasoning = responsesReasoning(nextId('rs_'), reply);
    frames.push(event('response.output_item.added', { output_index: 0, item: { id: reasoning.id, type: 'reasoning', summary: [] } }));
    const text = visibleReasoning(reply);
    if (text) {
      const at = { item_id: reasoning.id, output_index: 0, summary_index: 0 };
      frames.push(event('response.reasoning_summary_part.added', { ...at, part: { type: 'summary_text', text: '' } }));
      for (const piece of pieces(text)) frames.push(event('response.reasoning_summary_text.delta', { ...at, delta: piece }));
      frames.push(event('response.reasoning_summary_text.done', { ...at, text }));
      frames.push(event('response.reasoning_summary_part.done', { ...at, part: { type: 'summary_text', text } }));
    }
    frames.push(event('response.output_item.done', { output_index: 0, item: reasoning }));
    finished.push(reasoning);
  }
  const index = finished.length;
  frames.push(event('response.output_item.added', { output_index: index, item: responsesOutput(reply, ids, false) }));
  if (reply.kind === 'text') {
    const part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
    frames.push(event('response.content_part.added', { item_id: ids.message, output_index: index, content_index: 0, part }));
    for (const piece of pieces(reply.text)) frames.push(event('response.output_text.delta', { item_id: ids.message, output_index: index, content_index: 0, delta: piece, logprobs: [] }));
    frames.push(event('response.output_text.done', { item_id: ids.message, output_index: index, content_index: 0, text: reply.text, logprobs: [] }));
    frames.push(event('response.content_part.done', { item_id: ids.message, output_index: index, content_index: 0, part: { ...part, text: reply.text } }));
  } else {
    for (const piece of argumentPieces(reply.arguments)) frames.push(event('response.function_call_arguments.delta', { item_id: ids.call, output_index: index, delta: piece }));
    frames.push(event('response.function_call_arguments.done', { item_id: ids.call, output_index: index, name: reply.name, arguments: JSON.stringify(reply.arguments) }));
  }
  const done = responsesOutput(reply, ids, true);
  frames.push(event('response.output_item.done', { output_index: index, item: done }));
  frames.push(event(`response.${status}`, { response: responsesObject(id, model, request, status, [...finished, done], responsesUsage(usage)) }));
  return frames;
}

const ANTHROPIC_ERROR_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error' };
const GEMINI_STATUS: Record<number, string> = { 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 503: 'UNAVAILABLE' };
const OPENAI_ERROR_TYPES: Record<number, string> = { 400: 'invalid_request_error', 401: 'invalid_request_error', 404: 'invalid_request_error', 429: 'rate_limit_exceeded' };

/** AWS error types by status, sent in `x-amzn-errortype` (the body is just `{"message"}`). */
export const BEDROCK_ERROR_TYPES: Record<number, string> = { 400: 'ValidationException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException', 408: 'ModelTimeoutException', 429: 'ThrottlingException', 500: 'InternalServerException', 503: 'ServiceUnavailableException' };

export function errorBody(format: ProviderFormat, status: number, message: string): unknown { // 'responses' errors have OpenAI's shape
  if (format === 'bedrock') return { message };
  if (format === 'anthropic') return { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message } };
  if (format === 'gemini') return { error: { code: status, message, status: GEMINI_STATUS[status] ?? 'INTERNAL' } };
  return { error: { message, type: OPENAI_ERROR_TYPES[status] ?? 'server_error', param: null, code: status === 401 ? 'invalid_api_key' : null } };
}
