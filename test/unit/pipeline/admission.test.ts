import { afterEach, describe, expect, it } from 'vitest';
import { pricedAdmission } from '../../../src/pipeline/admission.js';
import type { GatewayRequest, Outcome } from '../../../src/pipeline/types.js';
import { PriceBook, pricingConfigSchema } from '../../../src/pricing/index.js';
import { failure, fixtureCloser, tokenPrincipal } from '../auth/access-control-fixture.js';

/** The pipeline's admit step over real access control and a real price book: priced reservation, priced settlement. */
const { fixture } = fixtureCloser(afterEach);
const priceBook = new PriceBook(pricingConfigSchema.parse({ 'acme-llm': { input: 2, output: 10 } })); // USD per million tokens

const request = (principal: GatewayRequest['principal'], model = 'acme-llm'): GatewayRequest => ({
  id: 'req_admission', format: 'openai', operation: 'chat', body: {}, model, stream: false, signal: new AbortController().signal,
  principal, receivedAt: Date.now(), hop: { count: 0, visited: [] },
});
const outcome = (req: GatewayRequest, usage: Outcome['usage'], provider = 'local'): Outcome => ({
  requestId: req.id, receivedAt: req.receivedAt, format: req.format, operation: req.operation, requestedModel: req.model, model: req.model,
  provider, principal: req.principal, stream: false, attempts: [], status: 200, findings: [], warnings: [], usage,
});

describe('pricedAdmission', () => {
  it('reserves the estimate at its price and settles the real usage priced for the serving provider', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const principal = await tokenPrincipal(ac, { cost: { limit: 1 }, tokens: { limit: 1_000_000, period: 'day' } });
    const seen: string[] = [];
    const admit = pricedAdmission({ quotas: ac.quotas, priceBook, providerType: (id) => (id === 'local' ? 'openai' : undefined), onQuotaRefused: (code) => seen.push(code) });
    const req = request(principal);
    const admission = await admit(req, { inputTokens: 1_000, maxOutputTokens: 1_000 });
    // 1,000 × $2/M + 1,000 × $10/M = $0.012 reserved of the $1 limit.
    expect(admission.headers['x-ratelimit-remaining-cost']).toBe('0.988');
    await admission.settle(outcome(req, { inputTokens: 500, outputTokens: 100 }));
    const [status] = await ac.tokens.list();
    expect(status!.usage.cost).toMatchObject({ used: 0.002 }); // 500 × $2/M + 100 × $10/M
    expect(status!.usage.tokens).toMatchObject({ used: 600 });
    expect(seen).toEqual([]);
  });

  it('refuses a model the credential may not use and counts a refusal by a limit', async () => {
    const { ac } = await fixture({ mode: 'token' });
    const seen: string[] = [];
    const admit = pricedAdmission({ quotas: ac.quotas, priceBook, providerType: () => undefined, onQuotaRefused: (code) => seen.push(code) });
    const limited = await tokenPrincipal(ac, { models: ['acme-*'], requests: { limit: 1, period: 'day' } });
    expect(await failure(async () => admit(request(limited, 'gpt-4o'), { inputTokens: 1, maxOutputTokens: 1 }))).toMatchObject({ status: 403, code: 'model_not_allowed' });
    const held = await admit(request(limited), { inputTokens: 1, maxOutputTokens: 1 });
    expect(await failure(async () => admit(request(limited), { inputTokens: 1, maxOutputTokens: 1 }))).toMatchObject({ status: 429, code: 'requests_limit_exceeded' });
    expect(seen).toEqual(['requests_limit_exceeded']);
    await held.release();
    await expect(admit(request(limited), { inputTokens: 1, maxOutputTokens: 1 })).resolves.toBeDefined();
  });

  it('admits a principal that no limit applies to at once: no promise, no price looked up, nothing to settle', async () => {
    const { ac } = await fixture({ mode: 'token', public_limits: {} });
    let priced = 0;
    const countingBook = Object.assign(Object.create(priceBook) as PriceBook, { costOf: (...args: Parameters<PriceBook['costOf']>) => (priced++, priceBook.costOf(...args)) });
    const admit = pricedAdmission({ quotas: ac.quotas, priceBook: countingBook, providerType: () => 'openai' });
    for (const principal of [{ kind: 'public' } as const, await tokenPrincipal(ac, { models: ['acme-*'] })]) {
      const req = request(principal);
      const admission = admit(req, { inputTokens: 1_000, maxOutputTokens: 1_000 });
      expect(admission).not.toBeInstanceOf(Promise);
      expect((admission as Awaited<typeof admission>).headers).toEqual({});
      await (admission as Awaited<typeof admission>).settle(outcome(req, { inputTokens: 10, outputTokens: 10 }));
    }
    expect(priced).toBe(0);
    // The model permission still holds (a refusal, as a rejected promise like a limit's), and a limit still reserves.
    const onlyAcme = await tokenPrincipal(ac, { models: ['acme-*'] });
    expect(await failure(async () => admit(request(onlyAcme, 'gpt-4o'), { inputTokens: 1, maxOutputTokens: 1 }))).toMatchObject({ status: 403, code: 'model_not_allowed' });
    const limited = await tokenPrincipal(ac, { requests: { limit: 5, period: 'day' } });
    const held = admit(request(limited), { inputTokens: 1, maxOutputTokens: 1 });
    expect(held).toBeInstanceOf(Promise);
    expect((await held).headers['x-ratelimit-remaining-requests']).toBe('4');
    expect(priced).toBe(1);
  });
});
