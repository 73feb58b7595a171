import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { mockAndNode, mockProviders } from '../helpers/gateway.js';

const ctx = mockAndNode((mock) => {
  const p = mockProviders(mock);
  return [p.openai, p.anthropic, p.gemini];
});

describe('model look-ups, each in its client\'s shape', () => {
  it('GET /v1/models/{id} with the openai SDK: the model, or a 404 model_not_found', async () => {
    const openai = new OpenAI({ baseURL: `${ctx.node.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const model = await openai.models.retrieve('claude-sonnet-4-5');
    expect(model).toMatchObject({ id: 'claude-sonnet-4-5', object: 'model', owned_by: 'anthropic', providers: ['anthropic'], capabilities: ['chat', 'count_tokens'] });
    const error = await openai.models.retrieve('no-such-model').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('GET /openai/v1/models/{id}: an OpenAI client pointed at the Azure v1 paths retrieves a model too', async () => {
    const openai = new OpenAI({ baseURL: `${ctx.node.url}/openai/v1`, apiKey: 'unused', maxRetries: 0 });
    expect(await openai.models.retrieve('openai/gpt-4o')).toMatchObject({ id: 'openai/gpt-4o', object: 'model', providers: ['openai'] });
    const error = await openai.models.retrieve('no-such-model').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OpenAI.NotFoundError);
    expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });

  it('GET /v1/models/{id} takes ids with a slash (a model pinned to a provider)', async () => {
    const response = await fetch(`${ctx.node.url}/v1/models/openai/gpt-4o`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: 'openai/gpt-4o', providers: ['openai'] });
  });

  it('GET /v1/models/{id} with the Anthropic SDK: Anthropic\'s model shape and error shape', async () => {
    const anthropic = new Anthropic({ baseURL: ctx.node.url, apiKey: 'unused', maxRetries: 0 });
    expect(await anthropic.models.retrieve('gpt-4o')).toEqual({ type: 'model', id: 'gpt-4o', display_name: 'gpt-4o', created_at: '1970-01-01T00:00:00.000Z' });
    const error = await anthropic.models.retrieve('no-such-model').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Anthropic.NotFoundError);
    expect((error as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
  });

  it('GET /v1beta/models and /v1beta/models/{model} with @google/genai: every model across pages, and one by name', async () => {
    // @google/genai 3 defaults to the v1 API; the gateway serves Gemini's v1beta.
    const ai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: ctx.node.url, apiVersion: 'v1beta' } });
    const names: string[] = [];
    for await (const model of await ai.models.list({ config: { pageSize: 2 } })) names.push(model.name!);
    expect(names).toEqual(['claude-sonnet-4-5', 'gemini-2.5-flash', 'gpt-4o', 'gpt-4o-mini', 'text-embedding-004', 'text-embedding-3-small'].sort().map((m) => `models/${m}`));
    const flash = await ai.models.get({ model: 'gpt-4o' });
    expect(flash).toMatchObject({ name: 'models/gpt-4o', displayName: 'gpt-4o' });
    const embedder = (await fetch(`${ctx.node.url}/v1beta/models/text-embedding-3-small`).then((r) => r.json())) as { supportedGenerationMethods: string[] };
    expect(embedder.supportedGenerationMethods).toEqual(['embedContent', 'batchEmbedContents']);
    const chat = (await fetch(`${ctx.node.url}/v1beta/models/gpt-4o`).then((r) => r.json())) as { supportedGenerationMethods: string[] };
    expect(chat.supportedGenerationMethods).toEqual(['generateContent', 'streamGenerateContent', 'countTokens']);
    const error = await ai.models.get({ model: 'no-such-model' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(404);
  });

  it('GET /v1/models and /v1/models/{id} with @google/genai as configured by default (the v1 paths): Gemini\'s shapes', async () => {
    // What the README's example does: only the base URL changed. The SDK then lists and gets models under /v1/.
    const ai = new GoogleGenAI({ apiKey: 'unused', httpOptions: { baseUrl: ctx.node.url } });
    const names: string[] = [];
    for await (const model of await ai.models.list({ config: { pageSize: 4 } })) names.push(model.name!);
    expect(names).toEqual(['claude-sonnet-4-5', 'gemini-2.5-flash', 'gpt-4o', 'gpt-4o-mini', 'text-embedding-004', 'text-embedding-3-small'].sort().map((m) => `models/${m}`));
    expect(await ai.models.get({ model: 'gpt-4o' })).toMatchObject({ name: 'models/gpt-4o', displayName: 'gpt-4o', supportedActions: ['generateContent', 'streamGenerateContent', 'countTokens'] });
    const error = await ai.models.get({ model: 'no-such-model' }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ApiError);
    expect(JSON.parse((error as ApiError).message)).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
    // A REST client sending its key the Gemini way gets Gemini's shape too; the OpenAI shape stays the default.
    const rest = await fetch(`${ctx.node.url}/v1/models/gpt-4o`, { headers: { 'x-goog-api-key': 'unused' } }).then((r) => r.json());
    expect(rest).toMatchObject({ name: 'models/gpt-4o' });
    expect(await fetch(`${ctx.node.url}/v1/models/gpt-4o`).then((r) => r.json())).toMatchObject({ id: 'gpt-4o', object: 'model' });
  });

  it.each([
    ['an unknown model', 'GET', '/v1beta/models/no-such-model', 404, 'NOT_FOUND'],
    ['an unknown route', 'GET', '/v1beta/cachedContents', 404, 'NOT_FOUND'],
    ['the bare prefix', 'GET', '/v1beta', 404, 'NOT_FOUND'],
    ['a wrong method', 'DELETE', '/v1beta/models', 405, 'UNIMPLEMENTED'],
    ['a bad page token', 'GET', '/v1beta/models?pageToken=%21%21', 400, 'INVALID_ARGUMENT'],
    ['an unknown method', 'POST', '/v1beta/models/gpt-4o:predict', 400, 'INVALID_ARGUMENT'],
  ])('answers %s under /v1beta in Gemini\'s error shape', async (_name, method, path, status, grpc) => {
    const response = await fetch(`${ctx.node.url}${path}`, { method, ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatchObject({ code: status, status: grpc, message: expect.any(String) });
  });
});
