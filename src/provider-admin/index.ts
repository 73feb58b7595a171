export { ProviderRegistry, type ProviderAdminView, type ProviderRegistryDeps } from './provider-registry.js';
export { RuntimeProviderStore, type StoredProvider } from './runtime-provider-store.js';
export { SealedBox } from './sealed-box.js';
export { providerAdminRoutes } from './provider-routes.js';
export { comparableJson } from './provider-block.js';
