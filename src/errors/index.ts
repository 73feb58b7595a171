export * from './gateway-error.js';
export { errorBody, errorEvent } from './wire.js';
