export { ResponseStore, itemIds, itemIn, ownerOf, storedResponseSchema } from './response-store.js';
export type { FoundItem, ResponseStoreOptions, StoredResponse, StoredResponses } from './response-store.js';
export { captureResponse } from './capture.js';
export { responsesConfigSchema } from './responses-config.js';
export type { ResponsesConfig } from './responses-config.js';
export { conversationBefore, replayableOutput, resolveItemReferences } from './conversation.js';
export type { ChainLimits } from './conversation.js';
export { RedisResponseStore } from './redis-response-store.js';
export type { RedisResponseStoreOptions } from './redis-response-store.js';
