export { encodeOperation, Store } from './store.js';
export type { EncodedOperation, SublevelOperation } from './store.js';
export { RetentionSweeper } from './retention.js';
export type { RetentionOptions } from './retention.js';
