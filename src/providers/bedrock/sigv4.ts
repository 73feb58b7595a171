import type { SignatureV4 } from '@smithy/signature-v4';
import type { SignableRequest } from '../types.js';
import type { BedrockCredentials } from './credentials.js';

/** The SigV4 service name of bedrock-runtime (https://docs.aws.amazon.com/bedrock/latest/userguide/security-iam.html). */
export const BEDROCK_SIGNING_SERVICE = 'bedrock';

/**
 * Signs requests with AWS Signature Version 4 (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html)
 * using the AWS SDK's own signer: the path is escaped once more for the canonical request, as for every service but
 * S3, and every header we send is signed (host included). Returns the headers to add: authorization, x-amz-date,
 * x-amz-content-sha256 (the body's hash, which AWS checks against the body) and, with temporary credentials,
 * x-amz-security-token.
 */
export function sigv4Signer(credentials: Extract<BedrockCredentials, { kind: 'sigv4' }>, region: string) {
  // The AWS signer is loaded with the first request to sign: a node without Bedrock never pays for the AWS code.
  let signer: Promise<SignatureV4> | undefined;
  const load = async () => {
    const [{ Hash }, { SignatureV4 }] = await Promise.all([import('@smithy/hash-node'), import('@smithy/signature-v4')]);
    return new SignatureV4({
      service: BEDROCK_SIGNING_SERVICE,
      region,
      sha256: Hash.bind(null, 'sha256'),
      // Revealed only here, at signing time; the signer keeps the function, not the values.
      credentials: async () => ({
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey.reveal(),
        ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken.reveal() } : {}),
      }),
    });
  };
  return async (request: SignableRequest): Promise<Record<string, string>> => {
    const headers = { ...request.headers, host: request.url.host };
    const signed = await (await (signer ??= load())).sign({
      method: request.method,
      protocol: request.url.protocol,
      hostname: request.url.hostname,
      ...(request.url.port ? { port: Number(request.url.port) } : {}),
      path: request.url.pathname,
      query: Object.fromEntries(request.url.searchParams),
      headers,
      body: request.body,
    });
    const added: Record<string, string> = {};
    for (const [name, value] of Object.entries(signed.headers)) {
      if (request.headers[name] !== value && name !== 'host') added[name] = value;
    }
    return added;
  };
}
