import { afterEach, describe, expect, it } from 'vitest';

import { fixtureCloser, tokenPrincipal } from './access-control-fixture.js';

const { fixture } = fixtureCloser(afterEach);

/** CORS policy: which origins may read answers, before authentication (preflight) and after it. */
describe('CORS policy', () => {
  const claims = { domains: ['myapp.com', '*.myapp.com'] };

  it('answers CORS preflight only for origins some live credential allows', async () => {
    const { ac } = await fixture({ mode: 'token', cors_origins: ['admin.example'] });
    expect(ac.cors.headersFor('https://myapp.com')).toBeUndefined();
    const { id } = await ac.tokens.mint(claims);
    expect(ac.cors.headersFor('https://www.myapp.com', undefined, 'authorization, x-stainless-os')).toMatchObject({
      'access-control-allow-origin': 'https://www.myapp.com',
      'access-control-allow-headers': 'authorization, x-stainless-os',
      vary: 'Origin',
    });
    expect(ac.cors.headersFor('https://admin.example')).toBeDefined();
    expect(ac.cors.headersFor('https://evil.com')).toBeUndefined();
    await ac.tokens.revoke(id);
    expect(ac.cors.headersFor('https://www.myapp.com')).toBeUndefined();
  });

  it('adds CORS headers to a response only when the principal allows the origin', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, claims, { origin: 'https://myapp.com' });
    const granted = ac.cors.headersFor('https://myapp.com', principal);
    expect(granted?.['access-control-expose-headers']).toContain('x-ratelimit-remaining');
    expect(granted?.['access-control-expose-headers']).toContain('x-meshgate-provider');
    // A page deletes its own stored responses: DELETE must pass the preflight.
    expect(granted?.['access-control-allow-methods']).toContain('DELETE');
    expect(ac.cors.headersFor('https://evil.com', principal)).toBeUndefined();
  });
});

describe('CORS for principals whose rules are gone', () => {
  it('sends no CORS headers instead of throwing', async () => {
    const { ac } = await fixture({ mode: 'token' });
    expect(ac.cors.headersFor('https://myapp.com', { kind: 'token', id: 'unknown-token-id' })).toBeUndefined();
  });
});
