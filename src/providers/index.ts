import type { ProviderConfig } from '../core-config/index.js';
import { HttpProvider } from './http-provider.js';
import type { Provider } from './types.js';

export type { Operation, Provider, UpstreamCall, UpstreamResponse } from './types.js';
export { parseRetryAfter } from './retry-after.js';
export { ANTHROPIC_VERSION } from './endpoints.js';
export { invalidJson } from './http-provider.js';

export function createProvider(config: ProviderConfig): Provider {
  return new HttpProvider(config);
}
