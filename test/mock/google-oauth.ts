/**
 * The mock's Google side for Vertex AI: an OAuth token endpoint for service accounts (RFC 7523 JWT bearer grant:
 * the assertion is verified with the public half of the mock's own service-account key, audience = this endpoint)
 * that issues short opaque access tokens, and the bearer check of Vertex requests against what it issued.
 */
import { exportPKCS8, exportSPKI, generateKeyPair, importSPKI, jwtVerify } from 'jose';

export const MOCK_PROJECT = 'mock-project-42';
export const MOCK_CLIENT_EMAIL = 'meshgate-test@mock-project-42.iam.gserviceaccount.com';
export const TOKEN_PATH = '/oauth2/token';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface MockGoogle {
  /** A service-account JSON key whose token_uri is this mock (write it to a file for `credentials_file`). */
  serviceAccountKey(): Record<string, string>;
  /** Lifetime of the tokens issued from now on, in seconds (`expires_in`). */
  setTokenLifetime(seconds: number): void;
  /** Every token issued so far stops working (as after a key rotation): Vertex answers 401. */
  revokeTokens(): void;
  /** A static access token accepted as is (the `access_token` mode). */
  readonly staticToken: string;
  issuedTokens(): string[];
  /** Verifies a token request (form body); returns the status and body to send. */
  exchange(form: URLSearchParams): Promise<{ status: number; body: unknown }>;
  /** Whether an `Authorization` header carries a live token. */
  bearerValid(authorization: string | undefined): boolean;
}

export async function createMockGoogle(tokenUri: string): Promise<MockGoogle> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const pem = await exportPKCS8(privateKey);
  const verifyKey = await importSPKI(await exportSPKI(publicKey), 'RS256');
  const live = new Map<string, number>();
  const issued: string[] = [];
  let lifetime = 3600;
  let counter = 0;
  const staticToken = 'ya29.mock-static-access-token';
  return {
    staticToken,
    serviceAccountKey: () => ({
      type: 'service_account', project_id: MOCK_PROJECT, private_key_id: 'mock-key-1', private_key: pem,
      client_email: MOCK_CLIENT_EMAIL, client_id: '1000000000000000000001', token_uri: tokenUri,
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    }),
    setTokenLifetime: (seconds) => void (lifetime = seconds),
    revokeTokens: () => live.clear(),
    issuedTokens: () => [...issued],
    async exchange(form) {
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
        return { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type.' } };
      }
      try {
        const { payload, protectedHeader } = await jwtVerify(form.get('assertion') ?? '', verifyKey, { algorithms: ['RS256'], audience: tokenUri, issuer: MOCK_CLIENT_EMAIL });
        if (protectedHeader.kid !== 'mock-key-1') throw new Error('kid');
        if (payload.scope !== CLOUD_PLATFORM_SCOPE) return { status: 400, body: { error: 'invalid_scope', error_description: 'Invalid OAuth scope.' } };
      } catch {
        return { status: 400, body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' } };
      }
      const token = `ya29.mock-${++counter}-${Date.now().toString(36)}`;
      live.set(token, Date.now() + lifetime * 1000);
      issued.push(token);
      return { status: 200, body: { access_token: token, expires_in: lifetime, token_type: 'Bearer' } };
    },
    bearerValid(authorization) {
      const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
      if (!token) return false;
      if (token === staticToken) return true;
      const expiresAt = live.get(token);
      return expiresAt !== undefined && expiresAt > Date.now();
    },
  };
}
