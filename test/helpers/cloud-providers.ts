import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MockUpstream } from '../mock/index.js';
import { MOCK_PROJECT } from '../mock/index.js';

/** Client-visible names of the cloud-hosted models the tests use, and what each is upstream. */
export const CLOUD_MODELS = {
  bedrock: { client: 'claude-on-bedrock', upstream: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0' },
  vertexGemini: { client: 'gemini-on-vertex', upstream: 'gemini-2.5-pro' },
  vertexClaude: { client: 'claude-on-vertex', upstream: 'claude-sonnet-4-5@20250929' },
} as const;

export const VERTEX_REGION = 'us-east5';

/** A Bedrock provider block signing with the mock's AWS credentials (SigV4), or with `overrides` merged in. */
export function bedrockProvider(mock: MockUpstream, overrides: Record<string, unknown> = {}) {
  return {
    id: 'bedrock', type: 'bedrock', base_url: mock.bedrockEndpoint,
    aws: { region: mock.aws.region, access_key_id: mock.aws.accessKeyId, secret_access_key: mock.aws.secretAccessKey },
    model_map: { [CLOUD_MODELS.bedrock.client]: CLOUD_MODELS.bedrock.upstream },
    ...overrides,
  };
}

/** Writes the mock's service-account key (token_uri → the mock) into `dir`; returns its path. */
export async function writeServiceAccountKey(mock: MockUpstream, dir: string): Promise<string> {
  const path = join(dir, 'service-account.json');
  await writeFile(path, JSON.stringify(mock.google.serviceAccountKey()), { mode: 0o600 });
  return path;
}

/** A Vertex provider block serving one Gemini and one Claude model with a service-account key. */
export function vertexProvider(mock: MockUpstream, credentialsFile: string, overrides: Record<string, unknown> = {}) {
  return {
    id: 'vertex', type: 'vertex', base_url: mock.vertexEndpoint,
    vertex: { project: MOCK_PROJECT, region: VERTEX_REGION, credentials_file: credentialsFile },
    model_map: {
      [CLOUD_MODELS.vertexGemini.client]: CLOUD_MODELS.vertexGemini.upstream,
      [CLOUD_MODELS.vertexClaude.client]: CLOUD_MODELS.vertexClaude.upstream,
    },
    ...overrides,
  };
}
