import { randomBytes, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import { isCanonicalBase64url } from '../core/index.js';
import type { CodeWithStatus } from '../errors/index.js';
import { accessRulesShape } from '../policy/index.js';
import { AdminKey, gatewayIdOf, parsePublicKey } from './admin-key.js';

/**
 * Access tokens: `mg-{gatewayId}.{jwt}`, where the JWT is a JWS (RFC 7515) signed with EdDSA/Ed25519 (RFC 8037) by
 * the admin key. Verification follows RFC 8725 (JWT BCP): one pinned algorithm, an explicit `typ` of our own so no
 * other JWT can be replayed as an access token, `iss` = our gateway id, `exp`/`nbf` with a small clock tolerance, a
 * mandatory `jti`, and claims validated with zod — strictly, so a claim this version does not understand (a
 * restriction it cannot enforce) rejects the token instead of being ignored.
 */
export const TOKEN_PREFIX = 'mg-';
export const TOKEN_TYPE = 'mg-access+jwt';
const ALGORITHM = 'EdDSA';

export const jtiSchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 characters of A-Z a-z 0-9 _ -');
/** Who the token is for (free text shown in listings). */
const subSchema = z.string().min(1).max(200);

/** What a caller may ask for when minting (library, CLI and admin API all take this). Times are epoch ms. */
export const tokenClaimsInputSchema = z
  .object({
    ...accessRulesShape,
    sub: subSchema.optional(),
    /** Expiry as an instant (epoch ms). */
    exp: z.number().int().positive().optional(),
    /** Expiry relative to minting (ms). */
    expiresIn: z.number().int().positive().max(100 * 365 * 86_400_000).optional(),
    /** Not valid before (epoch ms). */
    nbf: z.number().int().positive().optional(),
    /** Token id; random when absent. Revocation and quotas are keyed by it. */
    jti: jtiSchema.optional(),
  })
  .strict()
  .refine((claims) => claims.exp === undefined || claims.expiresIn === undefined, { message: 'give either exp or expiresIn, not both', path: ['exp'] });
export type TokenClaimsInput = z.input<typeof tokenClaimsInputSchema>;

/** The JWT payload as signed. NumericDates (iat, exp, nbf) are in seconds, as RFC 7519 §2 defines them. */
export const accessTokenPayloadSchema = z
  .object({
    ...accessRulesShape,
    sub: subSchema.optional(),
    iss: z.string(),
    jti: jtiSchema,
    iat: z.number(),
    exp: z.number().optional(),
    nbf: z.number().optional(),
  })
  .strict();
export type AccessTokenPayload = z.infer<typeof accessTokenPayloadSchema>;

export interface MintedToken {
  token: string;
  id: string;
  /** Epoch ms, or null for a token that does not expire. */
  expiresAt: number | null;
  payload: AccessTokenPayload;
}

/** Minting refused: the claims are invalid. The message lists every problem by claim path. */
export class TokenClaimsError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid access token claims: ${issues.join('; ')}`);
    this.name = 'TokenClaimsError';
  }
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length ? `${issue.path.map(String).join('.')}: ` : ''}${issue.message}`);
}

/** Signs an access token. All three ways of minting (library, CLI, admin API) end here, so they agree exactly. */
export async function mintAccessToken(key: AdminKey, claims: unknown, now: number = Date.now()): Promise<MintedToken> {
  const parsed = tokenClaimsInputSchema.safeParse(claims);
  if (!parsed.success) throw new TokenClaimsError(formatIssues(parsed.error));
  const { exp, expiresIn, nbf, jti, ...rules } = parsed.data;
  const expiresAtMs = exp ?? (expiresIn !== undefined ? now + expiresIn : undefined);
  if (expiresAtMs !== undefined && expiresAtMs <= now) throw new TokenClaimsError(['exp: must be in the future']);
  if (nbf !== undefined && expiresAtMs !== undefined && nbf >= expiresAtMs) throw new TokenClaimsError(['nbf: must be before the expiry']);
  const payload: AccessTokenPayload = {
    ...rules,
    iss: key.gatewayId,
    jti: jti ?? randomBytes(16).toString('base64url'),
    iat: Math.floor(now / 1000),
    ...(expiresAtMs !== undefined ? { exp: Math.floor(expiresAtMs / 1000) } : {}),
    ...(nbf !== undefined ? { nbf: Math.floor(nbf / 1000) } : {}),
  };
  const jwt = await new SignJWT(payload).setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE }).sign(key.privateKey);
  return { token: `${TOKEN_PREFIX}${key.gatewayId}.${jwt}`, id: payload.jti, expiresAt: payload.exp !== undefined ? payload.exp * 1000 : null, payload };
}

/**
 * Library entry point (`import { generateGatewayToken } from 'meshgate'`): mints an access token offline from the
 * admin secret key text. Throws TokenClaimsError for invalid claims, AdminKeyError for a malformed key.
 */
export async function generateGatewayToken(secretKey: string, claims: TokenClaimsInput = {}, options: { now?: number } = {}): Promise<string> {
  return (await mintAccessToken(AdminKey.parse(secretKey), claims, options.now)).token;
}

export type TokenRejection = 'malformed' | 'wrong_gateway' | 'bad_algorithm' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'revoked' | 'reused_id' | 'invalid_claims';

const REJECTION_MESSAGES: Record<TokenRejection, string> = {
  malformed: 'The access token is malformed.',
  wrong_gateway: 'The access token was issued by another gateway (its key does not match).',
  bad_algorithm: 'The access token is not signed with EdDSA (the only algorithm accepted).',
  bad_signature: 'The access token signature is invalid.',
  expired: 'The access token has expired.',
  not_yet_valid: 'The access token is not valid yet.',
  revoked: 'The access token has been revoked.',
  reused_id: 'Another token with the same id (jti) is known to this gateway; token ids must be unique.',
  invalid_claims: 'The access token claims are invalid.',
};

/** The error code a client is answered with for each rejection (see errors/codes.ts). */
const REJECTION_CODES: Record<TokenRejection, CodeWithStatus<401>> = {
  malformed: 'token_malformed',
  wrong_gateway: 'token_wrong_gateway',
  bad_algorithm: 'token_bad_algorithm',
  bad_signature: 'token_bad_signature',
  expired: 'token_expired',
  not_yet_valid: 'token_not_yet_valid',
  revoked: 'token_revoked',
  reused_id: 'token_reused_id',
  invalid_claims: 'token_invalid_claims',
};

export class TokenRejectedError extends Error {
  readonly code: CodeWithStatus<401>;

  constructor(readonly reason: TokenRejection, detail?: string) {
    super(detail ? `${REJECTION_MESSAGES[reason]} ${detail}` : REJECTION_MESSAGES[reason]);
    this.name = 'TokenRejectedError';
    this.code = REJECTION_CODES[reason];
  }
}

export interface VerifyOptions {
  /** The admin key, or its public half (`pk-meshgate-…` or a KeyObject) for offline verification. */
  key: AdminKey | KeyObject | string;
  clockSkewSeconds?: number;
  now?: number;
  isRevoked?: (id: string) => boolean;
}

export interface VerifiedToken {
  id: string;
  payload: AccessTokenPayload;
  /** Epoch ms, or null when the token does not expire. */
  expiresAt: number | null;
}

/** Splits `mg-{gatewayId}.{jwt}`; undefined when the text does not have that shape. */
export function splitAccessToken(token: string): { gatewayId: string; jwt: string } | undefined {
  const match = /^mg-([0-9a-f]{16})\.([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(token);
  return match ? { gatewayId: match[1]!, jwt: match[2]! } : undefined;
}

function publicKeyOf(key: VerifyOptions['key']): { publicKey: KeyObject; gatewayId: string } {
  if (key instanceof AdminKey) return { publicKey: key.publicKey, gatewayId: key.gatewayId };
  const publicKey = typeof key === 'string' ? parsePublicKey(key) : key;
  return { publicKey, gatewayId: gatewayIdOf(publicKey) };
}

/** Verifies an access token; throws TokenRejectedError saying why it is refused. */
export async function verifyAccessToken(token: string, options: VerifyOptions): Promise<VerifiedToken> {
  const parts = splitAccessToken(token);
  // jose decodes base64url leniently (the last character's unused bits are ignored): 16 spellings of one signature
  // would all verify. Only the canonical one is accepted, checked on the raw segments before jose sees them.
  if (!parts || !parts.jwt.split('.').every(isCanonicalBase64url)) throw new TokenRejectedError('malformed');
  const { publicKey, gatewayId } = publicKeyOf(options.key);
  if (parts.gatewayId !== gatewayId) throw new TokenRejectedError('wrong_gateway');
  let raw: unknown;
  try {
    ({ payload: raw } = await jwtVerify(parts.jwt, publicKey, {
      algorithms: [ALGORITHM],
      typ: TOKEN_TYPE,
      issuer: gatewayId,
      requiredClaims: ['jti', 'iat'],
      clockTolerance: options.clockSkewSeconds ?? 30,
      currentDate: new Date(options.now ?? Date.now()),
    }));
  } catch (err) {
    throw new TokenRejectedError(rejectionOf(err));
  }
  const payload = accessTokenPayloadSchema.safeParse(raw);
  if (!payload.success) throw new TokenRejectedError('invalid_claims', formatIssues(payload.error).join('; '));
  if (options.isRevoked?.(payload.data.jti)) throw new TokenRejectedError('revoked');
  return { id: payload.data.jti, payload: payload.data, expiresAt: payload.data.exp !== undefined ? payload.data.exp * 1000 : null };
}

function rejectionOf(err: unknown): TokenRejection {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return err.claim === 'nbf' ? 'not_yet_valid' : err.claim === 'iss' ? 'wrong_gateway' : 'invalid_claims';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'bad_algorithm';
  return 'malformed';
}
