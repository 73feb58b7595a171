import type { ProviderFormat } from '../core/index.js';
import type { WireFormat } from './canonical.js';
import type { FormatCodec, ProviderCodec } from './codec.js';
import { anthropicCodec } from './anthropic/index.js';
import { bedrockCodec } from './bedrock/index.js';

export { betasLostInTranslation } from './anthropic/index.js';
import { geminiCodec } from './gemini/index.js';
import { openaiCodec } from './openai/index.js';
import { responsesCodec } from './responses/index.js';

export * from './canonical.js';
export type { FormatCodec, PassthroughTap, ProviderCodec, RequestContext, ResponseContext, TranslatedRequest, TranslationTarget } from './codec.js';
export { REASONING_BUDGETS, reasoningBudget, reasoningEffort, wantsReasoningText } from './reasoning.js';
export { parseSSE, parseSSEBatches, parseSSEData, sseEventCount, sseMessage } from './sse.js';
export { refuseSeveralChoices } from './several-choices.js';
export { NOT_SCANNED, scanTopLevelObject } from './usage-scan.js';
export type { SSEMessage } from './sse.js';

export const codecs: Record<WireFormat, FormatCodec> = {
  openai: openaiCodec,
  anthropic: anthropicCodec,
  gemini: geminiCodec,
  responses: responsesCodec,
};

/** Every format a provider may be spoken to in: the client formats and the provider-only ones. */
export const providerCodecs: Record<ProviderFormat, ProviderCodec> = { ...codecs, bedrock: bedrockCodec };

/** The request schemas the codecs validate client bodies with (also the OpenAPI document's request bodies). */
export { openaiChatRequestSchema } from './openai/request.js';
export { embeddingRequestSchema as openaiEmbeddingRequestSchema } from './openai/embeddings.js';
export { anthropicRequestSchema } from './anthropic/request.js';
export { geminiRequestSchema } from './gemini/request/schema.js';
export { geminiResponseSchema } from './gemini/response/schema.js';
