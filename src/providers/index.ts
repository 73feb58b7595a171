import type { ProviderConfig } from '../core-config/index.js';
import { endpointsFor } from './endpoints.js';
import { HttpProvider } from './http-provider.js';
import type { Provider } from './types.js';

export type { Operation, Provider, ProviderEndpoints, SignableRequest, UpstreamCall, UpstreamResponse } from './types.js';
export { HttpProvider } from './http-provider.js';
export { parseRetryAfter } from './retry-after.js';
export { ANTHROPIC_VERSION } from './endpoints.js';
export { invalidJson } from './http-provider.js';

/** A provider from its config; credentials a type takes from the environment are read from `env` (default: process.env). */
export function createProvider(config: ProviderConfig, env: NodeJS.ProcessEnv = process.env): Provider {
  return new HttpProvider(config, endpointsFor(config, env));
}
