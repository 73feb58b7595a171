import Anthropic from '@anthropic-ai/sdk';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { bedrockProvider, CLOUD_MODELS, vertexProvider, writeServiceAccountKey } from '../helpers/cloud-providers.js';

/**
 * What the cloud hosts check and how the gateway meets it: SigV4 signatures (and what a refused one looks like to
 * the client), Bedrock API keys, the Converse body, cache usage; Vertex's OAuth tokens (minted once, shared,
 * renewed when refused) and Claude-on-Vertex's body rules.
 */

const PIXEL = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';

let mock: MockUpstream;
let dir: string;
let keyFile: string;
const nodes: TestGateway[] = [];

beforeAll(async () => {
  mock = await startMockUpstream();
  dir = await mkdtemp(join(tmpdir(), 'meshgate-cloud-auth-'));
  keyFile = await writeServiceAccountKey(mock, dir);
});

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
  mock.reset();
  mock.google.setTokenLifetime(3600);
});

afterAll(async () => {
  await mock?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function openaiFor(providers: Array<Record<string, unknown>>): Promise<OpenAI> {
  const node = await startTestGateway(providers, { routing: { backoff_ms: 1 } });
  nodes.push(node);
  return new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused', maxRetries: 0 });
}

const chats = () => mock.requests.filter((r) => r.path !== '/oauth2/token');
const tokenRequests = () => mock.requests.filter((r) => r.path === '/oauth2/token');

describe('Bedrock', () => {
  it('signs with SigV4 over a Converse body: system, inference config, image bytes, tool config', async () => {
    const client = await openaiFor([bedrockProvider(mock)]);
    await client.chat.completions.create({
      model: CLOUD_MODELS.bedrock.client, max_tokens: 50, temperature: 0.2, stop: ['END'],
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PIXEL}` } }] },
      ],
    });
    const request = chats().at(-1)!;
    expect(String(request.headers.authorization)).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIAMOCKACCESSKEY000\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
    expect(request.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(request.body).toEqual({
      messages: [{ role: 'user', content: [{ text: 'what is this' }, { image: { format: 'png', source: { bytes: PIXEL } } }] }],
      system: [{ text: 'Be brief.' }],
      inferenceConfig: { maxTokens: 50, temperature: 0.2, stopSequences: ['END'] },
    });
  });

  it('reports cache reads as cached prompt tokens (inputTokens excludes them; the client total includes them)', async () => {
    const client = await openaiFor([bedrockProvider(mock)]);
    const response = await client.chat.completions.create({ model: CLOUD_MODELS.bedrock.client, messages: [{ role: 'user', content: '[cache] a long shared prefix '.repeat(8) }] });
    // The mock caches half of the prompt: Bedrock says inputTokens = the other half, cacheReadInputTokens = this half.
    const input = response.usage!.prompt_tokens;
    expect(input).toBeGreaterThan(40);
    expect(response.usage!.prompt_tokens_details?.cached_tokens).toBe(Math.floor(input / 2));
    expect(response.usage!.total_tokens).toBe(input + response.usage!.completion_tokens);
  });

  it('answers a wrong secret key with a 502 naming the refused signature, without the secret', async () => {
    const secret = 'wrong/secret/key/that/must/not/leak/00000';
    const client = await openaiFor([bedrockProvider(mock, { aws: { region: 'us-east-1', access_key_id: mock.aws.accessKeyId, secret_access_key: secret } })]);
    const err = await client.chat.completions.create({ model: CLOUD_MODELS.bedrock.client, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    const apiError = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(502);
    expect(apiError.message).toContain('InvalidSignatureException');
    expect(apiError.message).toContain('signature was refused');
    expect(JSON.stringify(apiError.error)).not.toContain(secret);
    expect(chats().length).toBeGreaterThan(0);
  });

  it('signs for the configured region only: a region the endpoint does not serve is refused', async () => {
    const client = await openaiFor([bedrockProvider(mock, { aws: { region: 'eu-west-3', access_key_id: mock.aws.accessKeyId, secret_access_key: mock.aws.secretAccessKey } })]);
    const err = await client.chat.completions.create({ model: CLOUD_MODELS.bedrock.client, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as Error).message).toContain('region eu-west-3');
  });

  it('uses a Bedrock API key as a bearer token instead of signing', async () => {
    const client = await openaiFor([bedrockProvider(mock, { aws: { region: 'us-east-1' }, api_key: mock.aws.bearerToken })]);
    const response = await client.chat.completions.create({ model: CLOUD_MODELS.bedrock.client, messages: [{ role: 'user', content: 'bearer please' }] });
    expect(response.choices[0]!.message.content).toContain('says: bearer please');
    expect(chats().at(-1)!.headers.authorization).toBe(`Bearer ${mock.aws.bearerToken}`);
    expect(chats().at(-1)!.headers['x-amz-date']).toBeUndefined();
  });

  it('passes on a throttled Bedrock as 429 with its Retry-After', async () => {
    const client = await openaiFor([bedrockProvider(mock, { max_retries: 0 })]);
    mock.enqueue({ kind: 'error', status: 429, retryAfter: 7, message: 'Too many requests, please wait before trying again.' });
    const err = await client.chat.completions.create({ model: CLOUD_MODELS.bedrock.client, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    const apiError = err as InstanceType<typeof OpenAI.APIError>;
    expect(apiError.status).toBe(429);
    expect(apiError.headers?.get('retry-after')).toBe('7');
    expect(apiError.message).toContain('Too many requests');
  });
});

describe('Vertex AI', () => {
  it('sends Claude its body without a model and with anthropic_version vertex-2023-10-16, with a minted token', async () => {
    const node = await startTestGateway([vertexProvider(mock, keyFile)]);
    nodes.push(node);
    const client = new Anthropic({ baseURL: node.url, apiKey: 'unused', maxRetries: 0 });
    await client.messages.create({ model: CLOUD_MODELS.vertexClaude.client, max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    const request = chats().at(-1)!;
    expect(request.body.anthropic_version).toBe('vertex-2023-10-16');
    expect(request.body).not.toHaveProperty('model');
    expect(request.headers.authorization).toBe(`Bearer ${mock.google.issuedTokens()[0]}`);
  });

  it('mints one token for many requests, concurrent ones sharing a single exchange', async () => {
    const client = await openaiFor([vertexProvider(mock, keyFile)]);
    const ask = () => client.chat.completions.create({ model: CLOUD_MODELS.vertexGemini.client, messages: [{ role: 'user', content: 'hi' }] });
    await Promise.all([ask(), ask(), ask(), ask(), ask()]);
    await ask();
    expect(tokenRequests()).toHaveLength(1);
    expect(chats()).toHaveLength(6);
    const form = new URLSearchParams(String(tokenRequests()[0]!.body));
    expect(form.get('grant_type')).toBe('urn:ietf:params:oauth:grant-type:jwt-bearer');
  });

  it('renews a token that is about to expire before using it', async () => {
    // Tokens that live no longer than the refresh margin are due as soon as they arrive: every request renews.
    mock.google.setTokenLifetime(300);
    const client = await openaiFor([vertexProvider(mock, keyFile)]);
    const ask = () => client.chat.completions.create({ model: CLOUD_MODELS.vertexGemini.client, messages: [{ role: 'user', content: 'hi' }] });
    await ask();
    await ask();
    expect(tokenRequests()).toHaveLength(2);
    expect(chats().map((r) => r.headers.authorization)).toEqual(mock.google.issuedTokens().slice(-2).map((t) => `Bearer ${t}`));
  });

  it('replaces a token Vertex refuses (revoked) and retries, so the client never sees the 401', async () => {
    const client = await openaiFor([vertexProvider(mock, keyFile)]);
    const ask = () => client.chat.completions.create({ model: CLOUD_MODELS.vertexGemini.client, messages: [{ role: 'user', content: 'again' }] });
    await ask();
    mock.google.revokeTokens();
    const response = await ask();
    expect(response.choices[0]!.message.content).toContain('says: again');
    expect(tokenRequests()).toHaveLength(2);
    expect(chats()).toHaveLength(3);
  });

  it('names the token endpoint\'s refusal when the service-account key is not the registered one', async () => {
    const other = await startMockUpstream();
    try {
      // A key the mock never issued: the token endpoint refuses the assertion (invalid_grant).
      const foreign = { ...other.google.serviceAccountKey(), token_uri: mock.google.serviceAccountKey().token_uri };
      const file = join(dir, 'foreign.json');
      await writeFile(file, JSON.stringify(foreign));
      const client = await openaiFor([vertexProvider(mock, file)]);
      const err = await client.chat.completions.create({ model: CLOUD_MODELS.vertexGemini.client, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
      expect((err as Error).message).toContain('no access token from');
      expect((err as Error).message).toContain('invalid_grant');
      expect((err as Error).message).not.toContain('PRIVATE KEY');
      expect(chats()).toHaveLength(0);
    } finally {
      await other.close();
    }
  });

  it('takes a fixed access token from the config', async () => {
    const client = await openaiFor([vertexProvider(mock, keyFile, { vertex: { project: 'mock-project-42', region: 'global', access_token: mock.google.staticToken } })]);
    const response = await client.chat.completions.create({ model: CLOUD_MODELS.vertexGemini.client, messages: [{ role: 'user', content: 'global' }] });
    expect(response.choices[0]!.message.content).toContain('says: global');
    expect(chats().at(-1)!.path).toBe('/v1/projects/mock-project-42/locations/global/publishers/google/models/gemini-2.5-pro:generateContent');
    expect(tokenRequests()).toHaveLength(0);
  });
});
