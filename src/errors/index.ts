export { ERROR_CODES, isErrorCode } from './codes.js';
export type { ErrorCodeSpec } from './codes.js';
export * from './gateway-error.js';
export { errorBody, errorEvent } from './wire.js';
