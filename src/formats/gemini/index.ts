import type { FormatCodec } from '../codec.js';
import {
  canonicalToGeminiEmbeddingRequest, canonicalToGeminiEmbeddingResponse, geminiEmbeddingRequestToCanonical, geminiEmbeddingResponseToCanonical,
} from './embeddings.js';
import { canonicalToGeminiRequest, geminiPassthroughRequest, geminiRequestToCanonical } from './request.js';
import { canonicalToGeminiResponse, geminiResponseToCanonical, usageFromGeminiResponse } from './response.js';
import { decodeGeminiStream, encodeGeminiStream, tapGeminiStreamMessage } from './stream.js';

export { estimateEmbeddingTokens } from './embeddings.js';
export { cleanSchemaForGemini } from './json-schema/cleaning.js';
export { geminiSchemaToJsonSchema } from './json-schema/from-gemini.js';

/**
 * Gemini API v1beta (https://ai.google.dev/api): generateContent, streamGenerateContent?alt=sse, embedContent and
 * batchEmbedContents. Model and streaming live in the URL, not the body: requests read them from the context and
 * translated bodies carry neither. Layout as for every format: request.ts, response.ts, stream.ts, embeddings.ts,
 * with their parts in request/, response/ and json-schema/.
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
  usageField: 'usageMetadata',
  usageFromResponse: usageFromGeminiResponse,
  embeddings: {
    requestToCanonical: geminiEmbeddingRequestToCanonical,
    requestFromCanonical: canonicalToGeminiEmbeddingRequest,
    responseToCanonical: geminiEmbeddingResponseToCanonical,
    responseFromCanonical: canonicalToGeminiEmbeddingResponse,
  },
};
