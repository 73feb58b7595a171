import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { ledgerRoutes } from '../../../src/ledger/index.js';
import { ledgerParty } from './ledger-party.js';

describe('GET /v1/mesh/receipts', () => {
  it('filters by peer, and exports CSV with every text cell quoted and formulas neutralised', async () => {
    const { ledger } = await ledgerParty();
    const [alice, bob] = [(await ledgerParty()).id, (await ledgerParty()).id];
    const usage = { input: 10, output: 5, cached: 0 };
    const price = { input: 1_000_000, output: 2_000_000, cached: 0 };
    await ledger.issue(alice, 'r1', '=HYPERLINK("http://x")', usage, price);
    await ledger.issue(bob, 'r2', 'gpt-4o', usage, price);
    const app = Fastify();
    await app.register(ledgerRoutes(ledger));

    const json = (await app.inject({ url: `/v1/mesh/receipts?peer=${alice}` })).json() as { data: Array<{ subject: string }> };
    expect(json.data.map((r) => r.subject)).toEqual([alice]);

    const csv = await app.inject({ url: `/v1/mesh/receipts?peer=${alice}&format=csv` });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    const [header, row] = csv.body.trim().split('\r\n');
    expect(header).toContain('model');
    expect(row).toContain(`"'=HYPERLINK(""http://x"")"`);
    expect(row).not.toContain(bob);
    expect((await app.inject({ url: '/v1/mesh/receipts?format=xml' })).statusCode).toBe(400);
  });
});
