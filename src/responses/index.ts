export { ResponseStore, ownerOf, storedResponseSchema } from './response-store.js';
export type { ResponseStoreOptions, StoredResponse } from './response-store.js';
export { responsesRoutes, RESPONSES_PATHS } from './responses-routes.js';
export { responsesConfigSchema } from './responses-config.js';
export type { ResponsesConfig } from './responses-config.js';
export { conversationBefore, replayableOutput, resolveItemReferences } from './conversation.js';
export type { ChainLimits } from './conversation.js';
