/**
 * The config sections no single module owns (server, storage, routing, providers), below every module that reads
 * them. The whole config file — these plus each module's own section — is assembled above the modules, in config/.
 */
export { DEFAULT_BASE_URLS, GENERATION_ENDPOINTS, PROVIDER_TYPES, providerKeyLabels, coreConfigShape, providerSchema, routingSchema, serverSchema, storageSchema } from './schema.js';
export type { CoreConfig, GenerationEndpoint, ProviderConfig, ProviderKeyConfig, ProviderType, RoutingConfig, ServerConfig } from './schema.js';
export { PRESET_NAMES, PROVIDER_PRESETS, presetOf } from './provider-presets.js';
export type { PresetName, ProviderPreset } from './provider-presets.js';
