import type { FormatCodec } from '../codec.js';
import { canonicalToGeminiEmbeddingRequest, geminiEmbeddingRequestToCanonical } from './embedding-request.js';
import { canonicalToGeminiEmbeddingResponse, geminiEmbeddingResponseToCanonical } from './embedding-response.js';
import { geminiPassthroughRequest, tapGeminiStreamMessage, usageFromGeminiResponse } from './passthrough.js';
import { canonicalToGeminiRequest } from './request-from-canonical.js';
import { geminiRequestToCanonical } from './request-to-canonical.js';
import { canonicalToGeminiResponse } from './response-from-canonical.js';
import { geminiResponseToCanonical } from './response-to-canonical.js';
import { decodeGeminiStream } from './stream-decode.js';
import { encodeGeminiStream } from './stream-encode.js';

export { estimateEmbeddingTokens } from './embedding-token-estimate.js';
export { cleanSchemaForGemini } from './schema-cleaning.js';
export { geminiSchemaToJsonSchema } from './schema-from-gemini.js';

/**
 * Gemini API v1beta (https://ai.google.dev/api): generateContent, streamGenerateContent?alt=sse, embedContent and
 * batchEmbedContents. Model and streaming live in the URL, not the body: requests read them from the context and
 * translated bodies carry neither.
 */
export const geminiCodec: FormatCodec = {
  format: 'gemini',
  requestToCanonical: geminiRequestToCanonical,
  requestFromCanonical: (req) => canonicalToGeminiRequest(req),
  responseToCanonical: geminiResponseToCanonical,
  responseFromCanonical: canonicalToGeminiResponse,
  decodeStream: decodeGeminiStream,
  encodeStream: (events) => encodeGeminiStream(events),
  passthroughRequest: (body) => geminiPassthroughRequest(body),
  tapStreamMessage: (message) => tapGeminiStreamMessage(message),
  usageFromResponse: usageFromGeminiResponse,
  embeddings: {
    requestToCanonical: geminiEmbeddingRequestToCanonical,
    requestFromCanonical: canonicalToGeminiEmbeddingRequest,
    responseToCanonical: geminiEmbeddingResponseToCanonical,
    responseFromCanonical: canonicalToGeminiEmbeddingResponse,
  },
};
