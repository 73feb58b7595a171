import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, Secret } from '../../core/index.js';

/**
 * A Google service-account JSON key (https://cloud.google.com/iam/docs/keys-create-delete): who signs
 * (`client_email`, `private_key`, `private_key_id`) and where the signed assertion is exchanged for an access token
 * (`token_uri`, normally https://oauth2.googleapis.com/token). Read once at start; the private key stays a Secret.
 */
const keyFileSchema = z
  .object({
    type: z.literal('service_account'),
    client_email: z.string().min(1),
    private_key: z.string().includes('PRIVATE KEY'),
    private_key_id: z.string().optional(),
    project_id: z.string().optional(),
    token_uri: z.url({ protocol: /^https?$/ }).default('https://oauth2.googleapis.com/token'),
  })
  .loose();

export interface ServiceAccountKey {
  clientEmail: string;
  privateKey: Secret;
  privateKeyId?: string;
  projectId?: string;
  tokenUri: string;
}

export function readServiceAccountKey(path: string, providerId: string): ServiceAccountKey {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`provider ${providerId}: cannot read the service-account key ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`provider ${providerId}: the service-account key ${path} is not JSON`);
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    // Only the field names: a message that quoted values could quote the private key.
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(', ');
    throw new ConfigError(`provider ${providerId}: ${path} is not a service-account key (check: ${fields})`);
  }
  const key = parsed.data;
  return {
    clientEmail: key.client_email,
    privateKey: new Secret(key.private_key),
    ...(key.private_key_id ? { privateKeyId: key.private_key_id } : {}),
    ...(key.project_id ? { projectId: key.project_id } : {}),
    tokenUri: key.token_uri,
  };
}
