export { createAccessControl } from './access-control.js';
export type { AccessControl, AccessControlOptions } from './access-control.js';
export { AdminGuard } from './admin-guard.js';
export { Authenticator } from './authenticator.js';
export type { AuthenticatorOptions, AuthRequest } from './authenticator.js';
export { corsHeaders, CorsPolicy } from './cors-policy.js';
export { adminKeyResolver, virtualKeyResolver } from './credential-resolver.js';
export type { CredentialResolver } from './credential-resolver.js';
export { ModelPermissions } from './model-permissions.js';
export { PrincipalRules } from './principal-rules.js';
export { isFederated, QuotaAdmission } from './quota-admission.js';
export type { ActualUsage, FederatedPrincipal, IssuerQuota, QuotaAdmissionOptions, Reservation, ReserveInput, ServedUsage } from './quota-admission.js';
export { TokenAdmin } from './token-admin.js';
export { TokenVerifier } from './token-verifier.js';
export { VirtualKeys } from './virtual-keys.js';
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
export { CREDENTIAL_SOURCES, presentedCredential } from './credentials.js';
export type { HeaderBag, Principal } from './principal.js';
export { runTokenCommand, TOKEN_USAGE } from './token-command.js';
export type { TokenCommandIO } from './token-command.js';
export { TokenRegistry } from './token-registry.js';
export type { TokenChange, TokenDb, TokenDirectory, TokenRecord } from './token-registry.js';
export type { TokenStatus, TokenUsage, VirtualKeyStatus } from './token-status.js';
