import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/index.js';
import { providerSchema } from '../../../src/core-config/index.js';
import { resolveBedrockAuth } from '../../../src/providers/bedrock/credentials.js';
import { bedrockEndpoints } from '../../../src/providers/bedrock/endpoints.js';
import { checkAwsAuth, DEFAULT_AWS } from '../../mock/aws-sigv4.js';

const config = (extra: Record<string, unknown> = {}) => providerSchema.parse({ id: 'bedrock', type: 'bedrock', models: ['*'], ...extra });

describe('Bedrock credentials', () => {
  it('takes the config first, API key before access keys; then AWS_BEARER_TOKEN_BEDROCK, then the AWS_* keys', () => {
    const env = { AWS_REGION: 'eu-central-1', AWS_BEARER_TOKEN_BEDROCK: 'env-bearer', AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'env-secret', AWS_SESSION_TOKEN: 'env-session' };
    const keys = { aws: { access_key_id: 'AKIACONF', secret_access_key: 'conf-secret' } };
    expect(resolveBedrockAuth(config({ api_key: 'conf-bearer', ...keys }), env).credentials).toMatchObject({ kind: 'bearer' });
    expect(resolveBedrockAuth(config(keys), env).credentials).toMatchObject({ kind: 'sigv4', accessKeyId: 'AKIACONF' });
    const fromEnv = resolveBedrockAuth(config(), env);
    expect(fromEnv.region).toBe('eu-central-1');
    expect(fromEnv.credentials.kind === 'bearer' && fromEnv.credentials.token.reveal()).toBe('env-bearer');
    const keysFromEnv = resolveBedrockAuth(config(), { ...env, AWS_BEARER_TOKEN_BEDROCK: '' });
    expect(keysFromEnv.credentials).toMatchObject({ kind: 'sigv4', accessKeyId: 'AKIAENV' });
    expect(keysFromEnv.credentials.kind === 'sigv4' && keysFromEnv.credentials.sessionToken?.reveal()).toBe('env-session');
    // Secrets stay wrapped: nothing prints them.
    expect(JSON.stringify(keysFromEnv)).not.toContain('env-secret');
  });

  it('refuses to start without a region or without credentials, naming the settings and no values', () => {
    expect(() => resolveBedrockAuth(config(), { AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'B' })).toThrow(/aws\.region \(or AWS_REGION\)/);
    const err = (() => { try { resolveBedrockAuth(config({ aws: { region: 'us-east-1' } }), { AWS_ACCESS_KEY_ID: 'AKIAONLY' }); } catch (e) { return e; } })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/no AWS credentials/);
    expect((err as Error).message).not.toContain('AKIAONLY');
  });

  it('validates the aws block: a region name, key id and secret together, and only on bedrock providers', () => {
    expect(providerSchema.safeParse({ id: 'b', type: 'bedrock', models: ['*'], aws: { region: 'moon-1' } }).success).toBe(false);
    expect(providerSchema.safeParse({ id: 'b', type: 'bedrock', models: ['*'], aws: { access_key_id: 'AKIA' } }).success).toBe(false);
    expect(providerSchema.safeParse({ id: 'o', type: 'openai', aws: { region: 'us-east-1' } }).success).toBe(false);
    expect(providerSchema.safeParse({ id: 'b', type: 'bedrock' }).success).toBe(false); // no models: nothing to discover
  });
});

describe('Bedrock endpoints', () => {
  const signed = bedrockEndpoints(config({ aws: { region: DEFAULT_AWS.region, access_key_id: DEFAULT_AWS.accessKeyId, secret_access_key: DEFAULT_AWS.secretAccessKey, session_token: 'session-xyz' } }), {});

  it('builds the regional runtime URL with the model id (or inference profile ARN) percent-encoded', () => {
    expect(signed.url('chat', 'anthropic.claude-3-haiku-20240307-v1:0', false)).toBe('https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(signed.url('chat', 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0', true))
      .toBe('https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3-2-1b-instruct-v1%3A0/converse-stream');
  });

  it('signs with temporary credentials (x-amz-security-token) so that AWS\'s own signer agrees', async () => {
    const url = new URL(signed.url('chat', 'amazon.nova-pro-v1:0', false));
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });
    const headers = { 'content-type': 'application/json', accept: 'application/json', 'x-request-id': 'req-1' };
    const added = await signed.authorize!({ method: 'POST', url, headers, body }, undefined, new AbortController().signal);
    expect(added['x-amz-security-token']).toBe('session-xyz');
    const sent = { ...headers, ...added, host: url.host };
    const verify = (creds: typeof DEFAULT_AWS & { sessionToken?: string }, bodyText = body) =>
      checkAwsAuth(creds, { method: 'POST', rawPath: url.pathname, query: url.searchParams, headers: sent, body: bodyText });
    expect(await verify({ ...DEFAULT_AWS, sessionToken: 'session-xyz' })).toBeUndefined();
    expect(await verify({ ...DEFAULT_AWS, sessionToken: 'session-xyz' }, body.replace('hi', 'ho'))).toMatchObject({ errorType: 'InvalidSignatureException' });
    expect(await verify({ ...DEFAULT_AWS, sessionToken: 'another' })).toMatchObject({ errorType: 'UnrecognizedClientException' });
  });

  it('says which AWS check failed from x-amzn-errortype, never from the body', () => {
    expect(signed.refusalDetail!(403, { 'x-amzn-errortype': 'InvalidSignatureException:http://internal.amazon.com/coral/' })).toContain('signature was refused');
    expect(signed.refusalDetail!(403, { 'x-amzn-errortype': 'AccessDeniedException' })).toContain('bedrock:InvokeModel');
  });
});
