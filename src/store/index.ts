export { Store } from './store.js';
export { RetentionSweeper } from './retention.js';
export type { RetentionOptions } from './retention.js';
