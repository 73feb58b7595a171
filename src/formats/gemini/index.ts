import type { FormatCodec } from '../codec.js';
import {
  canonicalToGeminiEmbeddingRequest, canonicalToGeminiEmbeddingResponse, geminiEmbeddingRequestToCanonical, geminiEmbeddingResponseToCanonical,
} from './embeddings.js';
import { canonicalToGeminiRequest, geminiRequestToCanonical } from './request.js';
import {
  canonicalToGeminiResponse, decodeGeminiStream, encodeGeminiStream, geminiResponseToCanonical, tapGeminiStreamMessage, usageFromGemini,
} from './response.js';

export { estimateEmbeddingTokens } from './embeddings.js';
export { cleanSchemaForGemini } from './schema-cleaning.js';

/** Gemini generateContent / streamGenerateContent / embeddings. Model and streaming live in the URL, not the body. */
export const geminiCodec: FormatCodec = {
  format: 'gemini',
  requestToCanonical: geminiRequestToCanonical,
  requestFromCanonical: (req) => canonicalToGeminiRequest(req),
  responseToCanonical: geminiResponseToCanonical,
  responseFromCanonical: canonicalToGeminiResponse,
  decodeStream: decodeGeminiStream,
  encodeStream: (events) => encodeGeminiStream(events),
  passthroughRequest: (body) => ({ body, clientWantsStreamUsage: true }),
  tapStreamMessage: (message) => tapGeminiStreamMessage(message),
  usageFromResponse: (body) => usageFromGemini((body as { usageMetadata?: Parameters<typeof usageFromGemini>[0] })?.usageMetadata),
  embeddings: {
    requestToCanonical: geminiEmbeddingRequestToCanonical,
    requestFromCanonical: canonicalToGeminiEmbeddingRequest,
    responseToCanonical: (body) => geminiEmbeddingResponseToCanonical(body),
    responseFromCanonical: canonicalToGeminiEmbeddingResponse,
  },
};
