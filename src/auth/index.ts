export { AccessControl } from './access-control.js';
export type { AccessControlOptions, ActualUsage, AuthRequest, Reservation, ReserveInput } from './access-control.js';
export {
  accessTokenPayloadSchema,
  generateGatewayToken,
  jtiSchema,
  mintAccessToken,
  splitAccessToken,
  TOKEN_PREFIX,
  TOKEN_TYPE,
  TokenClaimsError,
  tokenClaimsInputSchema,
  TokenRejectedError,
  verifyAccessToken,
} from './access-token.js';
export type { AccessTokenPayload, MintedToken, TokenClaimsInput, TokenRejection, VerifiedToken, VerifyOptions } from './access-token.js';
export { ADMIN_KEY_FILE, AdminKey, AdminKeyError, gatewayIdOf, loadAdminKey, parsePublicKey, PUBLIC_KEY_PREFIX, readAdminKeyFile, SECRET_KEY_PREFIX } from './admin-key.js';
export type { LoadedAdminKey } from './admin-key.js';
export { adminRoutes } from './admin-routes.js';
export { ACCESS_MODES, authConfigSchema, keyMapSchema, virtualKeyId } from './auth-config.js';
export type { AccessMode, AuthConfig, KeyMap, VirtualKey } from './auth-config.js';
export { checkOrigin, hostMatches, requestOrigin } from './origin.js';
export { presentedCredential } from './principal.js';
export type { HeaderBag, Principal } from './principal.js';
export { runTokenCommand, TOKEN_USAGE } from './token-command.js';
export type { TokenCommandIO } from './token-command.js';
export type { TokenRecord } from './token-registry.js';
export type { TokenStatus, TokenUsage, VirtualKeyStatus } from './token-status.js';
