import type { WireFormat } from './canonical.js';
import type { FormatCodec } from './codec.js';
import { anthropicCodec } from './anthropic/index.js';

export { betasLostInTranslation } from './anthropic/index.js';
import { geminiCodec } from './gemini/index.js';
import { openaiCodec } from './openai/index.js';
import { responsesCodec } from './responses/index.js';

export * from './canonical.js';
export type { FormatCodec, PassthroughTap, RequestContext, ResponseContext, TranslatedRequest, TranslationTarget } from './codec.js';
export { REASONING_BUDGETS, reasoningBudget, reasoningEffort, wantsReasoningText } from './reasoning.js';
export { parseSSE, parseSSEData, sseMessage } from './sse.js';
export type { SSEMessage } from './sse.js';

export const codecs: Record<WireFormat, FormatCodec> = {
  openai: openaiCodec,
  anthropic: anthropicCodec,
  gemini: geminiCodec,
  responses: responsesCodec,
};
