import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Secret } from '../../src/core/index.js';
import { UpstreamError } from '../../src/errors/index.js';
import { REFRESH_MARGIN_MS, serviceAccountTokenSource } from '../../src/providers/vertex/token-source.js';
import type { ServiceAccountKey } from '../../src/providers/vertex/service-account.js';
import { startMockUpstream, type MockUpstream } from '../mock/index.js';

/** The service-account token source against the mock's token endpoint, on a clock the test moves. */

let mock: MockUpstream;
let key: ServiceAccountKey;

beforeAll(async () => {
  mock = await startMockUpstream();
  const file = mock.google.serviceAccountKey();
  key = { clientEmail: file.client_email!, privateKey: new Secret(file.private_key!), privateKeyId: file.private_key_id!, tokenUri: file.token_uri! };
});
afterAll(() => mock?.close());

const exchanges = () => mock.requests.filter((r) => r.path === '/oauth2/token').length;
const signal = () => new AbortController().signal;

describe('service-account token source', () => {
  it('keeps a token until the refresh margin before its expiry, then mints the next one', async () => {
    mock.reset();
    mock.google.setTokenLifetime(3600);
    let now = Date.now();
    const source = serviceAccountTokenSource(key, 'vertex', () => now);
    const first = await source.token(signal());
    now += 3600_000 - REFRESH_MARGIN_MS - 1_000; // still outside the margin
    expect(await source.token(signal())).toBe(first);
    expect(exchanges()).toBe(1);
    now += 2_000; // inside the margin: renewed before it lapses
    const second = await source.token(signal());
    expect(second).not.toBe(first);
    expect(exchanges()).toBe(2);
    expect(mock.google.issuedTokens().slice(-2)).toEqual([first, second]);
  });

  it('shares one exchange among concurrent callers', async () => {
    mock.reset();
    const source = serviceAccountTokenSource(key, 'vertex');
    const tokens = await Promise.all(Array.from({ length: 8 }, () => source.token(signal())));
    expect(new Set(tokens).size).toBe(1);
    expect(exchanges()).toBe(1);
  });

  it('mints anew after invalidate(), and reports whether there was a token to drop', async () => {
    mock.reset();
    const source = serviceAccountTokenSource(key, 'vertex');
    expect(source.invalidate()).toBe(false);
    const first = await source.token(signal());
    expect(source.invalidate()).toBe(true);
    expect(await source.token(signal())).not.toBe(first);
  });

  it('does not cache a failure: an unreachable endpoint is retryable, and the next call tries again', async () => {
    const closed = await startMockUpstream();
    const unreachable = closed.url;
    await closed.close();
    const source = serviceAccountTokenSource({ ...key, tokenUri: `${unreachable}/oauth2/token` }, 'vertex');
    const err = await source.token(signal()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(true);
    expect((err as Error).message).toContain('could not be reached');
    await expect(source.token(signal())).rejects.toThrow(/could not be reached/);
  });

  it('lets one caller give up without cancelling the exchange for the others', async () => {
    mock.reset();
    mock.setDefault({ kind: 'ok' });
    const source = serviceAccountTokenSource(key, 'vertex');
    const impatient = new AbortController();
    const first = source.token(impatient.signal);
    const second = source.token(signal());
    impatient.abort(new Error('client went away'));
    await expect(first).rejects.toThrow('client went away');
    expect(await second).toMatch(/^ya29\.mock-/);
    expect(exchanges()).toBe(1);
  });
});
