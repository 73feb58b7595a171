export { ConfigError, loadConfig, parseConfig, formatConfigIssues } from './load.js';
export type { LoadOptions, LoadedConfig } from './load.js';
export { configSchema } from './root.js';
export type { Config } from './root.js';
export { PROVIDER_TYPES, DEFAULT_BASE_URLS } from './schema.js';
export type { ProviderConfig, ProviderType } from './schema.js';
export { Secret } from './secret.js';
