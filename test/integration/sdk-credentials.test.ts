import { GoogleGenAI } from '@google/genai';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateGatewayToken } from '../../src/index.js';
import { mockProviders, startTestGateway, TEST_KEY, type TestGateway } from '../helpers/gateway.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';

/**
 * Every SDK authenticates the way it already does (issue 20): the official `openai` SDK's AzureOpenAI client
 * (`api-key`, `/openai/deployments/{deployment}/…?api-version=`), the `@google/genai` SDK (`x-goog-api-key`) and a
 * plain Gemini REST client (`?key=`), each with an access token and with a virtual key, on nodes in token mode, key
 * mode and both.
 */
const VIRTUAL_KEY = 'team-a-virtual-key-0123456789';
const API_VERSION = '2024-10-21';
const MODES = { token: ['token'], key: ['key'], both: ['token', 'key'] } as const;
type Mode = keyof typeof MODES;
type Kind = 'token' | 'virtual_key';

let mock: MockUpstream;
const nodes = {} as Record<Mode, TestGateway>;
const tokens = {} as Record<Mode, string>;

beforeAll(async () => {
  mock = await startMockUpstream();
  const providers = mockProviders(mock);
  for (const mode of Object.keys(MODES) as Mode[]) {
    nodes[mode] = await startTestGateway([{ ...providers.openai, model_map: { 'team-fast': 'gpt-4o-mini' } }, providers.gemini], {
      auth: { mode: MODES[mode] },
      key_map: { [VIRTUAL_KEY]: { label: 'team-a' } },
    });
    tokens[mode] = await generateGatewayToken(nodes[mode].gateway.access.adminKey.secret.reveal(), { jti: `sdk-token-${mode}`, expiresIn: 600_000 });
  }
});

afterAll(async () => {
  await Promise.all(Object.values(nodes).map((node) => node?.close()));
  await mock?.close();
});

const credential = (mode: Mode, kind: Kind) => (kind === 'token' ? tokens[mode] : VIRTUAL_KEY);
const accepts = (mode: Mode, kind: Kind) => (MODES[mode] as readonly string[]).includes(kind === 'token' ? 'token' : 'key');
/** The code a node refuses a credential of a kind its mode does not take with. */
const refusalCode = (kind: Kind) => (kind === 'token' ? 'tokens_not_accepted' : 'invalid_api_key');

const azure = (node: TestGateway, apiKey: string, deployment?: string) =>
  new AzureOpenAI({ endpoint: node.url, apiKey, apiVersion: API_VERSION, deployment, maxRetries: 0 });
const genai = (node: TestGateway, apiKey: string) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: node.url } });
const geminiRest = (node: TestGateway, model: string, method: string, query: string, headers: Record<string, string> = {}) =>
  fetch(`${node.url}/v1beta/models/${model}:${method}?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
  });

/** Runs `call`; on a node that accepts the credential it must succeed as that principal, else fail with 401. */
async function expectAdmission(mode: Mode, kind: Kind, call: () => Promise<unknown>, refusal: (err: unknown) => { status?: number; code?: string }) {
  const node = nodes[mode];
  const before = node.outcomes.length;
  if (accepts(mode, kind)) {
    await call();
    await node.waitForOutcomes(before + 1);
    expect(node.outcomes.at(-1)!.principal.kind).toBe(kind);
  } else {
    const err = await call().then(() => undefined, (e: unknown) => e);
    expect(err, 'the call should have been refused').toBeDefined();
    expect(refusal(err)).toMatchObject({ status: 401, code: refusalCode(kind) });
  }
}

const openaiRefusal = (err: unknown) => {
  const e = err as { status?: number; code?: string };
  return { status: e.status, code: e.code };
};
/**
 * Gemini's error shape has a numeric code and a status name, no meshgate code: the refusal is told by its message.
 * @google/genai throws an ApiError with the HTTP status and that body in its message.
 */
const codeInMessage = (message: string) =>
  /does not accept access tokens/.test(message) ? 'tokens_not_accepted' : /API key is not valid/.test(message) ? 'invalid_api_key' : undefined;
const genaiRefusal = (err: unknown) => {
  const e = err as { status?: number; message?: string };
  return { status: e.status, code: codeInMessage(e.message ?? '') };
};

const cases = (Object.keys(MODES) as Mode[]).flatMap((mode) => (['token', 'virtual_key'] as Kind[]).map((kind) => ({ mode, kind })));

describe.each(cases)('$mode mode, $kind', ({ mode, kind }) => {
  it('AzureOpenAI chat completions (api-key, deployment path, api-version), plain and streamed', async () => {
    const client = azure(nodes[mode], credential(mode, kind));
    await expectAdmission(mode, kind, async () => {
      const reply = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
      expect(reply.choices[0]?.message.content).toBeTruthy();
    }, openaiRefusal);
    await expectAdmission(mode, kind, async () => {
      const stream = await client.chat.completions.create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'hi' }] });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      expect(text).toBeTruthy();
    }, openaiRefusal);
  });

  it('AzureOpenAI embeddings', async () => {
    const client = azure(nodes[mode], credential(mode, kind), 'text-embedding-3-small');
    await expectAdmission(mode, kind, async () => {
      const reply = await client.embeddings.create({ model: 'ignored-the-deployment-decides', input: 'hello' });
      expect(reply.data[0]?.embedding.length).toBeGreaterThan(0);
    }, openaiRefusal);
  });

  it('@google/genai (x-goog-api-key), plain and streamed', async () => {
    const client = genai(nodes[mode], credential(mode, kind));
    await expectAdmission(mode, kind, async () => {
      const reply = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
      expect(reply.text).toBeTruthy();
    }, genaiRefusal);
    await expectAdmission(mode, kind, async () => {
      let text = '';
      for await (const chunk of await client.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'hi' })) text += chunk.text ?? '';
      expect(text).toBeTruthy();
    }, genaiRefusal);
  });

  it('Gemini REST with ?key= (plain and streamed) and with x-goog-api-key', async () => {
    const key = credential(mode, kind);
    for (const [method, query, headers] of [
      ['generateContent', `key=${encodeURIComponent(key)}`, {}],
      ['streamGenerateContent', `alt=sse&key=${encodeURIComponent(key)}`, {}],
      ['generateContent', '', { 'x-goog-api-key': key }],
    ] as const) {
      await expectAdmission(mode, kind, async () => {
        const res = await geminiRest(nodes[mode], 'gemini-2.5-flash', method, query, headers);
        if (res.status !== 200) throw Object.assign(new Error('refused'), { response: res, body: await res.json() });
        expect((await res.text()).length).toBeGreaterThan(0);
      }, (err) => {
        const { response, body } = err as { response: Response; body: { error: { code: number; message: string; status: string } } };
        expect(body.error).toMatchObject({ code: 401, status: 'UNAUTHENTICATED' });
        return { status: response.status, code: codeInMessage(body.error.message) };
      });
    }
  });
});

describe('credential rules', () => {
  it('refuses two different credentials with 400 naming the headers, not their values', async () => {
    const res = await geminiRest(nodes.both, 'gemini-2.5-flash', 'generateContent', `key=${VIRTUAL_KEY}`, { 'x-goog-api-key': tokens.both });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).toContain('x-goog-api-key, key query parameter');
    expect(text).not.toContain(VIRTUAL_KEY);
    expect(text).not.toContain(tokens.both);
    const openai = await fetch(`${nodes.both.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.both}`, 'api-key': VIRTUAL_KEY },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(openai.status).toBe(400);
    expect(((await openai.json()) as { error: { code: string } }).error.code).toBe('conflicting_credentials');
  });

  it('reads ?key= on /v1beta/ routes only, and never forwards it or the client credential upstream', async () => {
    const elsewhere = await fetch(`${nodes.key.url}/v1/chat/completions?key=${VIRTUAL_KEY}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(elsewhere.status).toBe(401);
    expect(((await elsewhere.json()) as { error: { code: string } }).error.code).toBe('missing_credentials');
    mock.reset();
    const res = await geminiRest(nodes.key, 'gemini-2.5-flash', 'generateContent', `key=${VIRTUAL_KEY}&alt=json`);
    expect(res.status).toBe(200);
    const upstream = mock.requests.at(-1)!;
    expect(upstream.query).not.toHaveProperty('key');
    expect(upstream.headers['x-goog-api-key']).toBe(TEST_KEY);
    expect(JSON.stringify(upstream)).not.toContain(VIRTUAL_KEY);
  });

  it('accepts the admin key from the same headers on the admin API', async () => {
    const adminKey = nodes.token.gateway.access.adminKey.secret.reveal();
    for (const header of ['x-goog-api-key', 'api-key', 'x-api-key']) {
      const res = await fetch(`${nodes.token.url}/v1/admin/tokens`, { headers: { [header]: adminKey } });
      expect(res.status, header).toBe(200);
    }
  });
});

describe('Azure OpenAI paths', () => {
  it('takes the deployment name as the model, through model_map', async () => {
    mock.reset();
    const reply = await azure(nodes.key, VIRTUAL_KEY, 'team-fast').chat.completions.create({ model: 'anything', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]?.message.content).toBeTruthy();
    expect(mock.requests.at(-1)!.body.model).toBe('gpt-4o-mini');
    const outcome = (await nodes.key.waitForOutcomes(1)).at(-1)!;
    expect(outcome).toMatchObject({ requestedModel: 'team-fast', provider: 'openai' });
  });

  it('serves a REST call without a model in the body (as Azure documents it)', async () => {
    const res = await fetch(`${nodes.key.url}/openai/deployments/gpt-4o/chat/completions?api-version=${API_VERSION}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': VIRTUAL_KEY },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { object: string }).object).toBe('chat.completion');
    const bad = await fetch(`${nodes.key.url}/openai/deployments/gpt-4o/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'api-key': VIRTUAL_KEY }, body: JSON.stringify({ messages: 'not a list' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('invalid_request_error');
  });

  it('answers an unknown deployment in the OpenAI error shape (404 model_not_found)', async () => {
    const err = await azure(nodes.key, VIRTUAL_KEY, 'no-such-deployment').chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found', type: 'not_found_error' });
  });

  it('serves the /openai/v1/ aliases of the OpenAI routes (Azure v1 API)', async () => {
    const client = new OpenAI({ baseURL: `${nodes.key.url}/openai/v1`, apiKey: VIRTUAL_KEY, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.choices[0]?.message.content).toBeTruthy();
    const embedding = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    expect(embedding.data).toHaveLength(1);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('gpt-4o');
  });
});
