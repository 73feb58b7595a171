import { withPassthroughModel, type FormatCodec } from '../codec.js';

import {
  canonicalToOpenAIEmbeddingRequest, canonicalToOpenAIEmbeddingResponse, openaiEmbeddingRequestToCanonical, openaiEmbeddingResponseToCanonical,
} from './embeddings.js';
import { canonicalToOpenAIRequest, openaiRequestToCanonical } from './request.js';
import { canonicalToOpenAIResponse, openaiResponseToCanonical, usageFromOpenAI } from './response.js';
import { decodeOpenAIStream, encodeOpenAIStream, tapOpenAIStreamMessage } from './stream.js';

/** OpenAI Chat Completions + Embeddings; also Azure OpenAI and every OpenAI-compatible server. */
export const openaiCodec: FormatCodec = {
  format: 'openai',
  requestToCanonical: (body) => openaiRequestToCanonical(body),
  requestFromCanonical: canonicalToOpenAIRequest,
  responseToCanonical: openaiResponseToCanonical,
  responseFromCanonical: canonicalToOpenAIResponse,
  decodeStream: decodeOpenAIStream,
  encodeStream: encodeOpenAIStream,
  passthroughRequest: (body, model, stream) => {
    const options = (body.stream_options ?? {}) as Record<string, unknown>;
    const clientWantsStreamUsage = options.include_usage === true;
    if (!stream || clientWantsStreamUsage) return { body: withPassthroughModel(body, model), clientWantsStreamUsage };
    return { body: { ...body, model, stream_options: { ...options, include_usage: true } }, clientWantsStreamUsage };
  },
  tapStreamMessage: tapOpenAIStreamMessage,
  usageField: 'usage',
  usageFromResponse: (body) => usageFromOpenAI((body as { usage?: Parameters<typeof usageFromOpenAI>[0] })?.usage),
  embeddings: {
    requestToCanonical: (body) => openaiEmbeddingRequestToCanonical(body),
    requestFromCanonical: canonicalToOpenAIEmbeddingRequest,
    responseToCanonical: openaiEmbeddingResponseToCanonical,
    responseFromCanonical: (res) => canonicalToOpenAIEmbeddingResponse(res, res.encodingFormat),
  },
};

