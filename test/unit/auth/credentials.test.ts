import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { CREDENTIAL_SOURCES, presentedCredential } from '../../../src/auth/index.js';
import { GatewayError } from '../../../src/errors/index.js';
import { queryKeyOf, stripQueryKey } from '../../../src/http/query-key.js';
import { Writable } from 'node:stream';
import { createLogger, redactQueryKey } from '../../../src/logging/logger.js';

const KEY = 'team-a-virtual-key-0123456789';

describe('presentedCredential', () => {
  it('reads the key from every SDK header and from ?key=', () => {
    expect(presentedCredential({ authorization: `Bearer ${KEY}` })).toBe(KEY);
    expect(presentedCredential({ authorization: `bearer  ${KEY} ` })).toBe(KEY);
    expect(presentedCredential({ 'x-api-key': KEY })).toBe(KEY);
    expect(presentedCredential({ 'x-goog-api-key': KEY })).toBe(KEY);
    expect(presentedCredential({ 'api-key': ` ${KEY}` })).toBe(KEY);
    expect(presentedCredential({}, [KEY])).toBe(KEY);
    expect(presentedCredential({})).toBeUndefined();
    expect(presentedCredential({ authorization: `Basic ${KEY}`, 'x-api-key': '' })).toBeUndefined();
  });

  it('reads every header CREDENTIAL_SOURCES names, and names them in its order when they conflict', () => {
    const headers = Object.fromEntries(CREDENTIAL_SOURCES.map((name, i) => [name, name === 'authorization' ? `Bearer key-${i}-value` : `key-${i}-value`]));
    for (const name of CREDENTIAL_SOURCES) expect(presentedCredential({ [name]: headers[name] }), name).toMatch(/^key-\d-value$/);
    expect(() => presentedCredential(headers)).toThrow(CREDENTIAL_SOURCES.join(', '));
  });

  it('takes one credential sent in several places as one', () => {
    expect(presentedCredential({ authorization: `Bearer ${KEY}`, 'api-key': KEY, 'x-goog-api-key': KEY }, [KEY])).toBe(KEY);
  });

  it('refuses two different credentials with 400 naming where they came from, never what they are', () => {
    const refusal = (() => {
      try {
        presentedCredential({ authorization: 'Bearer first-credential-value', 'x-goog-api-key': 'second-credential-value' }, ['third-credential-value']);
      } catch (err) {
        return err as GatewayError;
      }
      throw new Error('expected a refusal');
    })();
    expect(refusal).toBeInstanceOf(GatewayError);
    expect(refusal).toMatchObject({ status: 400, code: 'conflicting_credentials' });
    expect(refusal.message).toContain('authorization, x-goog-api-key, key query parameter');
    expect(refusal.message).not.toMatch(/credential-value/);
    expect(() => presentedCredential({}, ['one-key-value-000', 'another-key-value'])).toThrow(/key query parameter/);
  });
});

describe('the key query parameter', () => {
  const raw = (url: string) => ({ url }) as IncomingMessage & { originalUrl?: string };

  it('is taken off the URL (originalUrl too), every other parameter kept as sent', () => {
    const request = raw(`/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=${encodeURIComponent('mg-abc.def+/=')}&x=%20y`);
    expect(stripQueryKey(request)).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&x=%20y');
    expect(request.originalUrl).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&x=%20y');
    expect(queryKeyOf(request, '/v1beta/models/gemini-2.5-flash:streamGenerateContent')).toEqual(['mg-abc.def+/=']);
    const only = raw(`/v1beta/models/m:generateContent?key=${KEY}`);
    expect(stripQueryKey(only)).toBe('/v1beta/models/m:generateContent');
    expect(stripQueryKey(raw('/v1/models?keys=1&monkey=2'))).toBe('/v1/models?keys=1&monkey=2');
  });

  it('is read as a credential on /v1beta/ routes only', () => {
    const request = raw(`/v1/chat/completions?key=${KEY}`);
    expect(stripQueryKey(request)).toBe('/v1/chat/completions');
    expect(queryKeyOf(request, '/v1/chat/completions')).toEqual([]);
  });

  it('is redacted from any URL the logger serializes', () => {
    expect(redactQueryKey(`/v1beta/models/m:generateContent?alt=sse&key=${KEY}&x=1`)).toBe('/v1beta/models/m:generateContent?alt=sse&key=[redacted]&x=1');
  });

  it('never reaches a log line through the request serializer', () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const logger = createLogger({ level: 'info', destination: sink });
    logger.info({ req: { method: 'POST', url: `/v1beta/models/m:generateContent?key=${KEY}`, host: 'node', ip: '127.0.0.1' } }, 'incoming request');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ req: { method: 'POST', url: '/v1beta/models/m:generateContent?key=[redacted]', remoteAddress: '127.0.0.1' } });
    expect(lines[0]).not.toContain(KEY);
  });
});
