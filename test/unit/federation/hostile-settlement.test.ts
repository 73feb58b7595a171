import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/auth/index.js';
import { ReservationServer } from '../../../src/federation/index.js';
import { costMicros, signingKeyFromRaw, type Measured } from '../../../src/ledger/index.js';

/**
 * The issuing side of /meshgate/reserve/1.0.0 against a hostile serving peer, which picks the figures it settles with
 * and signs the receipt it sends beside them: the token is charged at least what the receipt can make this gateway
 * pay, and the receipt is checked against the settlement, not against the reserved worst case.
 */
const PRICE = { input: 2_500_000, output: 10_000_000, cached: 1_250_000 };
const principal = { kind: 'token', id: 'tok-1', claims: { jti: 'tok-1' }, expiresAt: null } as unknown as Principal;

async function issuer(price = PRICE) {
  const key = await generateKeyPair('Ed25519');
  const charged: Array<{ tokens?: number; costMicros?: number }> = [];
  const checked: Measured[] = [];
  const server = new ReservationServer({
    selfId: peerIdFromPrivateKey(key).toString(), gatewayId: '0123456789abcdef', signingKey: signingKeyFromRaw(key.raw), ttlMs: 60_000, logger: pino({ level: 'silent' }),
    resolve: async () => principal,
    quotas: { reserve: async () => ({ headers: {}, settle: async (usage) => void charged.push(usage), release: async () => undefined }) },
    receipts: async (_peer, _rid, _receipt, measured) => void checked.push(measured),
    priceOf: () => price,
  });
  return { server, charged, checked };
}

const reserve = (server: ReservationServer, rid: string) =>
  server.handle({ type: 'reserve', token: 'a-token', rid, model: 'm', tokens: 10_000, cost: 1_000_000, priced: true }, 'peer-y') as Promise<{ ok: boolean; reservation: string }>;

describe('a settlement from a hostile serving peer', () => {
  it('gives its receipt a bound of the settled usage: a receipt cannot claim the reserved tokens in each direction', async () => {
    const { server, checked } = await issuer();
    const { reservation } = await reserve(server, 'r1');
    const answer = await server.handle({ type: 'settle', tid: 'tok-1', rid: 'r1', reservation, usage: { input: 100, output: 50, cached: 0, cost: 1_000 }, model: 'm', receipt: 'a.b.c' }, 'peer-y');
    expect(answer).toEqual({ ok: true });
    expect(checked).toHaveLength(1);
    expect(checked[0]!.bound).toEqual({ input: 100, output: 50 });
    server.close();
  });

  it('charges the token at least the receipt\'s cost at the advertised price, whatever cost it names', async () => {
    const { server, charged } = await issuer();
    const { reservation } = await reserve(server, 'r2');
    const usage = { input: 4_000, output: 2_000, cached: 0 };
    expect(await server.handle({ type: 'settle', tid: 'tok-1', rid: 'r2', reservation, usage: { ...usage, cost: 0 }, model: 'm' }, 'peer-y')).toEqual({ ok: true });
    expect(charged).toEqual([{ tokens: 6_000, costMicros: costMicros(usage, PRICE) }]);
    server.close();
  });

  it('refuses a settlement whose usage at the advertised price costs more than was reserved', async () => {
    // 9,000 output tokens (within the 10,000 reserved) at $200/MTok cost 1,800,000 micro-USD: over the 1,000,000 reserved.
    const { server, charged } = await issuer({ input: 0, output: 200_000_000, cached: 0 });
    const { reservation } = await reserve(server, 'r3');
    const refused = await server.handle({ type: 'settle', tid: 'tok-1', rid: 'r3', reservation, usage: { input: 0, output: 9_000, cached: 0, cost: 1 }, model: 'm' }, 'peer-y');
    expect(refused).toMatchObject({ ok: false, code: 'settle_exceeds_reservation' });
    expect(charged).toEqual([]);
    server.close();
  });
});
