import { withPassthroughModel, type FormatCodec } from '../codec.js';
import { anthropicRequestToCanonical, canonicalToAnthropicRequest } from './request.js';
import { anthropicResponseToCanonical, canonicalToAnthropicResponse, usageFromAnthropic, type AnthropicUsage } from './response.js';
import { decodeAnthropicStream, encodeAnthropicStream, tapAnthropicStreamMessage } from './stream.js';

export { DEFAULT_MAX_TOKENS } from './request.js';
export { betasLostInTranslation } from './structured-output.js';

/** Anthropic Messages. No embeddings: Anthropic has none. */
export const anthropicCodec: FormatCodec = {
  format: 'anthropic',
  requestToCanonical: (body) => anthropicRequestToCanonical(body),
  requestFromCanonical: canonicalToAnthropicRequest,
  responseToCanonical: anthropicResponseToCanonical,
  responseFromCanonical: canonicalToAnthropicResponse,
  decodeStream: decodeAnthropicStream,
  encodeStream: (events) => encodeAnthropicStream(events),
  passthroughRequest: (body, model) => ({ body: withPassthroughModel(body, model), clientWantsStreamUsage: true }),
  tapStreamMessage: (message) => tapAnthropicStreamMessage(message),
  usageField: 'usage',
  usageFromResponse: (body) => {
    const usage = usageFromAnthropic((body as { usage?: AnthropicUsage })?.usage);
    return usage && { ...usage, inputTokens: usage.inputTokens ?? 0, outputTokens: usage.outputTokens ?? 0 };
  },
};
