import { describe, expect, it } from 'vitest';
import { receiptPayloadSchema } from '../../../src/ledger/receipt.js';
import { decodeReceiptPayload } from '../../../src/ledger/receipt-payload.js';
import { agree, variants } from '../../helpers/schema-agreement.js';

/**
 * The typed receipt payload check (src/ledger/receipt-payload.ts), used when a receipt is signed and when one is
 * verified, against the schema that defines a receipt payload (protocol/receipts.md, protocol/schemas).
 */
describe('typed receipt payload check agrees with receiptPayloadSchema', () => {
  const base = {
    v: 1, iss: 'peer-a', sub: 'peer-b', ch: 'peer-a>peer-b', seq: 3, rid: 'req_1', model: 'gpt-4o-mini',
    usage: { input: 100, output: 20, cached: 10 }, price: { input: 150_000, output: 600_000, cached: 75_000 }, cost: 27, total: 81, prev: 'h'.repeat(43), iat: 1_700_000_000_000,
  };
  const amounts = [
    { input: 1, output: 1, cached: 1 }, { input: 1, output: 1, cached: 2 }, { input: 1, output: 1 }, { input: 1, output: 1, cached: 0, more: 1 },
    { input: -1, output: 1, cached: 0 }, { input: 1.5, output: 1, cached: 0 }, { input: Number.MAX_SAFE_INTEGER, output: 0, cached: 0 }, { input: 2 ** 53, output: 0, cached: 0 },
  ];
  const extra = [...amounts, 2, Number.MAX_SAFE_INTEGER, 'x'.repeat(200), 'x'.repeat(201), '\u{1F600}'.repeat(200), '\u{1F600}'.repeat(201)];

  it('accepts and refuses the same payloads, with the same value', () => {
    const payloads = [...variants(base, extra), ...variants({ ...base, seq: 1, prev: null, usage: { input: 0, output: 0, cached: 0 } }, extra)];
    expect(agree(receiptPayloadSchema, decodeReceiptPayload, payloads)).toBeGreaterThan(40);
  });
});
