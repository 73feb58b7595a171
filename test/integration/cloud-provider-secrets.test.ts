import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import { Gateway } from '../../src/gateway/gateway.js';
import { createLogger } from '../../src/logging/logger.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { bedrockProvider, CLOUD_MODELS, vertexProvider, writeServiceAccountKey } from '../helpers/cloud-providers.js';
import { lineSink } from '../helpers/log-lines.js';

/**
 * The cloud credentials — AWS secret key and session token, a Bedrock API key, the service account's private key and
 * the tokens minted with it — never show in a log line (at debug level), an error a client gets, or the provider list.
 */

const WRONG_SECRET = 'wrong/secret/access/key/must/not/leak/000';
let mock: MockUpstream;
let dir: string;
let node: Gateway;
let url: string;
const lines: string[] = [];

beforeAll(async () => {
  mock = await startMockUpstream({ aws: { sessionToken: 'session-token-that-must-not-leak' } });
  dir = await mkdtemp(join(tmpdir(), 'meshgate-cloud-secrets-'));
  const keyFile = await writeServiceAccountKey(mock, dir);
  const sink = lineSink(lines);
  const aws = { region: mock.aws.region, access_key_id: mock.aws.accessKeyId, secret_access_key: mock.aws.secretAccessKey, session_token: mock.aws.sessionToken };
  const config = parseConfig({
    server: { host: '127.0.0.1', port: 0 }, storage: { dir }, routing: { backoff_ms: 1 },
    providers: [
      bedrockProvider(mock, { aws }),
      bedrockProvider(mock, { id: 'bedrock-wrong', aws: { ...aws, secret_access_key: WRONG_SECRET }, model_map: { 'wrong-signature': CLOUD_MODELS.bedrock.upstream } }),
      bedrockProvider(mock, { id: 'bedrock-key', aws: { region: mock.aws.region }, api_key: mock.aws.bearerToken, model_map: { 'by-api-key': CLOUD_MODELS.bedrock.upstream } }),
      vertexProvider(mock, keyFile),
    ],
  }, 'cloud secrets test', {});
  node = await Gateway.start(config, { logger: createLogger({ level: 'debug', destination: sink }) });
  url = node.url;
});

afterAll(async () => {
  await node?.close();
  await mock?.close();
  await rm(dir, { recursive: true, force: true });
});

const chat = (model: string, stream = false) => fetch(`${url}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
});

describe('cloud credentials', () => {
  it('stay out of logs, client errors and the provider list', async () => {
    const bodies: string[] = [];
    for (const [model, status] of [[CLOUD_MODELS.bedrock.client, 200], ['by-api-key', 200], [CLOUD_MODELS.vertexClaude.client, 200], ['wrong-signature', 502]] as const) {
      for (const stream of [false, true]) {
        const response = await chat(model, stream);
        expect(response.status).toBe(status);
        bodies.push(await response.text());
      }
    }
    mock.google.revokeTokens();
    expect((await chat(CLOUD_MODELS.vertexGemini.client)).status).toBe(200);
    bodies.push(await (await fetch(`${url}/v1/providers`)).text());
    await expect.poll(() => lines.filter((l) => l.includes('request completed')).length, { timeout: 5_000, interval: 20 }).toBe(9);

    const privateKeyBody = mock.google.serviceAccountKey().private_key!.split('\n')[1]!;
    const secrets = [mock.aws.secretAccessKey, WRONG_SECRET, mock.aws.sessionToken!, mock.aws.bearerToken, privateKeyBody, ...mock.google.issuedTokens()];
    expect(mock.google.issuedTokens().length).toBe(2);
    const everything = [...lines, ...bodies].join('\n');
    for (const secret of secrets) expect(everything).not.toContain(secret);
    // The checks look where the failures are told: the refused signature is in the client's error and the log.
    expect(bodies.join('\n')).toContain('InvalidSignatureException');
    expect(lines.join('\n')).toContain('bedrock-wrong');
  });
});
