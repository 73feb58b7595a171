export { ConfigError, loadConfig, parseConfig, formatConfigIssues } from './load.js';
export type { LoadOptions, LoadedConfig } from './load.js';
export { configSchema } from './root.js';
export type { Config } from './root.js';
export { PROVIDER_TYPES, DEFAULT_BASE_URLS } from '../core-config/index.js';
export type { ProviderConfig, ProviderType } from '../core-config/index.js';
export { Secret } from '../core/index.js';
