/**
 * The mock's side of AWS authentication for Bedrock: SigV4 verified by recomputing the signature with the AWS SDK's
 * signer from the mock's own copy of the credentials (over exactly the headers the request says it signed), or a
 * Bedrock API key as a bearer token. Failures answer as AWS does: 403 with `x-amzn-errortype` and `{"message"}`.
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface MockAwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  region: string;
  /** The Bedrock API key accepted in bearer mode. */
  bearerToken: string;
}

export const DEFAULT_AWS: MockAwsCredentials = {
  accessKeyId: 'AKIAMOCKACCESSKEY000',
  secretAccessKey: 'mock/secret/access/key/0000000000000000',
  region: 'us-east-1',
  bearerToken: 'ABSKbW9jay1iZWRyb2NrLWFwaS1rZXk=',
};

export interface AwsRefusal {
  status: number;
  errorType: string;
  message: string;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const SIGNATURE_MISMATCH = 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const refusal = (errorType: string, message: string): AwsRefusal => ({ status: 403, errorType, message });

/** Undefined when the request is authenticated; otherwise the refusal AWS would send. */
export async function checkAwsAuth(
  creds: MockAwsCredentials,
  req: { method: string; rawPath: string; query: URLSearchParams; headers: IncomingHttpHeaders; body: string },
): Promise<AwsRefusal | undefined> {
  const authorization = req.headers.authorization ?? '';
  if (authorization.startsWith('Bearer ')) {
    return authorization.slice(7) === creds.bearerToken ? undefined : refusal('UnrecognizedClientException', 'Invalid API Key format: Must start with pre-defined prefix');
  }
  const match = AUTH.exec(authorization);
  if (!match) return refusal('MissingAuthenticationTokenException', 'Missing Authentication Token');
  const [, accessKeyId, day, region, service, signedHeaders, signature] = match;
  if (accessKeyId !== creds.accessKeyId) return refusal('UnrecognizedClientException', 'The security token included in the request is invalid.');
  if (creds.sessionToken !== undefined && req.headers['x-amz-security-token'] !== creds.sessionToken) {
    return refusal('UnrecognizedClientException', 'The security token included in the request is invalid.');
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!date || !amzDate.startsWith(day!)) return refusal('IncompleteSignatureException', 'Date must be in ISO-8601 \'basic format\'.');
  if (region !== creds.region || service !== 'bedrock') {
    return refusal('InvalidSignatureException', `Credential should be scoped to a valid region and service 'bedrock', not '${region}/${service}'.`);
  }
  const headers: Record<string, string> = {};
  for (const name of signedHeaders!.split(';')) {
    const value = req.headers[name];
    if (value === undefined) return refusal('InvalidSignatureException', `Signed header ${name} is missing.`);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  // The signer takes a payload hash header on trust; AWS checks it against the body, so the mock does too.
  const payloadHash = req.headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(req.body).digest('hex')) {
    return refusal('InvalidSignatureException', SIGNATURE_MISMATCH);
  }
  const [host, port] = (headers.host ?? '').split(':');
  const signer = new SignatureV4({
    service, region: region!, sha256: Hash.bind(null, 'sha256'),
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}) },
  });
  const signingDate = new Date(Date.UTC(+date[1]!, +date[2]! - 1, +date[3]!, +date[4]!, +date[5]!, +date[6]!));
  const expected = await signer.sign(
    { method: req.method, protocol: 'http:', hostname: host!, ...(port ? { port: Number(port) } : {}), path: req.rawPath, query: Object.fromEntries(req.query), headers, body: req.body },
    { signingDate },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
  if (expectedSignature !== signature) return refusal('InvalidSignatureException', SIGNATURE_MISMATCH);
  return undefined;
}
