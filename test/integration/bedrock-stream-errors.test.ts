import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { bedrockProvider, CLOUD_MODELS } from '../helpers/cloud-providers.js';
import { readUntilError } from '../helpers/streams.js';

/**
 * Exceptions inside a ConverseStream (AWS event-stream exception messages): before the first event reaches the
 * client they fail over like any upstream failure; after it the client gets an error event naming the exception.
 */

let primary: MockUpstream;
let backup: MockUpstream;
let node: TestGateway;
let openai: OpenAI;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startMockUpstream(), startMockUpstream()]);
  node = await startTestGateway([
    bedrockProvider(primary, { id: 'bedrock-primary', max_retries: 0 }),
    bedrockProvider(backup, { id: 'bedrock-backup' }),
  ]);
  openai = new OpenAI({ baseURL: `${node.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});

beforeEach(() => {
  primary.reset();
  backup.reset();
});

afterAll(async () => {
  await node?.close();
  await Promise.all([primary?.close(), backup?.close()]);
});

const model = CLOUD_MODELS.bedrock.client;

describe('ConverseStream exceptions', () => {
  it('fails over when the stream opens with a throttlingException', async () => {
    primary.enqueue({ kind: 'stream_exception', exception: 'throttlingException', afterChunks: 0 });
    const { data: stream, response } = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'busy?' }] }).withResponse();
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toContain('says: busy?');
    expect(response.headers.get('x-meshgate-provider')).toBe('bedrock-backup');
    expect(primary.requests).toHaveLength(1);
  });

  it('ends a stream that already reached the client with an error naming the exception', async () => {
    primary.enqueue({ kind: 'stream_exception', exception: 'modelStreamErrorException', message: 'the model stopped', afterChunks: 3 });
    const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'one two three four five six' }] });
    const { received, error } = await readUntilError(stream);
    expect(received).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(String((error as Error).message)).toContain('modelStreamErrorException');
    expect(backup.requests).toHaveLength(0);
  });
});
