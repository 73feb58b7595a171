/**
 * meshgate as a library: start a node in-process, or mint and verify access tokens offline (for a website's server
 * or build script).
 */
export { Gateway } from './gateway/gateway.js';
export type { GatewayOptions } from './gateway/gateway.js';
export { loadConfig, parseConfig, ConfigError } from './config/index.js';
export type { Config } from './config/index.js';
export { generateGatewayToken, verifyAccessToken, AdminKey, TokenClaimsError, TokenRejectedError } from './auth/index.js';
export type { TokenClaimsInput, VerifiedToken } from './auth/index.js';
export { GatewayError } from './errors/index.js';
