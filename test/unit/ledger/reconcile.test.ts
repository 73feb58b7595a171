import { describe, expect, it } from 'vitest';
import { channelId, reconcileWithPeer, type LedgerMessage, type LedgerTransport } from '../../../src/ledger/index.js';
import { ledgerParty } from './ledger-party.js';

describe('reconciliation against a hostile heads answer', () => {
  it('fetches each shared channel once, however often the answer repeats it, and ignores channels it is no party of', async () => {
    const server = await ledgerParty();
    const client = await ledgerParty();
    const stranger = await ledgerParty();
    const channel = channelId(server.id, client.id);
    const sent: LedgerMessage[] = [];
    // The peer claims receipts it never hands over, and names the same channel 100 times (and others' channels).
    const transport: LedgerTransport = {
      request: async (_peer, message) => {
        sent.push(message);
        if (message.type === 'heads') {
          return {
            ok: true,
            heads: [
              ...Array.from({ length: 100 }, (_, i) => ({ channel, seq: 1_000 + i })),
              { channel: channelId(server.id, stranger.id), seq: 5 },
              { channel: 7, seq: 'x' },
              null,
            ],
          };
        }
        return message.type === 'fetch' ? { ok: true, receipts: [] } : { ok: true, acks: [] };
      },
    };
    expect(await reconcileWithPeer(transport, client.ledger, server.id)).toEqual([]);
    const fetches = sent.filter((m) => m.type === 'fetch');
    expect(fetches).toEqual([{ type: 'fetch', channel, after: 0 }]);
  });
});
