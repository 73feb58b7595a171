import type { Connection } from '@libp2p/interface';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { lpStream, streamPair } from '@libp2p/utils';
import { describe, expect, it } from 'vitest';
import { MAX_INBOUND_MESSAGE_BYTES, MAX_MESSAGES_IN_FLIGHT_PER_PEER, messageStreamHandler } from '../../src/mesh/message-protocol.js';

const HOSTILE = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
const HONEST = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));

/** A varint length prefix announcing `n` bytes (what a sender writes before a message it may never finish). */
function lengthPrefix(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = n; ; v = Math.floor(v / 128)) {
    if (v < 128) {
      bytes.push(v);
      break;
    }
    bytes.push((v % 128) | 0x80);
  }
  return Uint8Array.from(bytes);
}

describe('request/response message protocol (ledger messages): what one peer can make a node hold', () => {
  const handler = messageStreamHandler(async (message) => ({ ok: true, echo: message }), 5_000);

  /** Sends one message on the requester's side of a stream and reads the answer. */
  async function ask(outbound: Awaited<ReturnType<typeof streamPair>>[0], message: unknown) {
    const lp = lpStream(outbound);
    await lp.write(new TextEncoder().encode(JSON.stringify(message)));
    return JSON.parse(new TextDecoder().decode((await lp.read()).subarray())) as { ok: boolean; error?: string };
  }

  /** Opens a stream from `peer` to the handler and returns the requester's side and the handler's run. */
  async function open(peer = HOSTILE) {
    const [outbound, inbound] = await streamPair();
    return { outbound, served: handler(inbound, { remotePeer: peer } as Connection) };
  }

  it(`holds at most ${MAX_MESSAGES_IN_FLIGHT_PER_PEER} messages of one peer at once: the next is refused unread, other peers are served`, async () => {
    // Streams that announce a large message and never finish it: each would keep its buffer until the timeout.
    const stalled = await Promise.all(Array.from({ length: MAX_MESSAGES_IN_FLIGHT_PER_PEER }, async () => {
      const stream = await open();
      stream.outbound.send(lengthPrefix(MAX_INBOUND_MESSAGE_BYTES));
      stream.outbound.send(new Uint8Array(64 * 1024));
      return stream;
    }));
    const extra = await open();
    expect(await ask(extra.outbound, { type: 'heads' })).toMatchObject({ ok: false, error: expect.stringMatching(/busy/) });
    await extra.served;

    const honest = await open(HONEST);
    expect(await ask(honest.outbound, { type: 'heads' })).toEqual({ ok: true, echo: { type: 'heads' } });
    await honest.served;

    // Once the stalled ones are gone, the peer may send again.
    for (const s of stalled) s.outbound.abort(new Error('gone'));
    await Promise.all(stalled.map((s) => s.served));
    const again = await open();
    expect(await ask(again.outbound, { type: 'heads' })).toMatchObject({ ok: true });
    await again.served;
  });

  it('refuses a message announced above the inbound limit before buffering it', { timeout: 15_000 }, async () => {
    // A long read timeout: without the limit the handler would wait for the rest of the message (and buffer it).
    const patient = messageStreamHandler(async () => ({ ok: true }), 60_000);
    const [outbound, inbound] = await streamPair();
    const served = patient(inbound, { remotePeer: HOSTILE } as Connection);
    outbound.send(lengthPrefix(MAX_INBOUND_MESSAGE_BYTES + 1));
    await served;
    expect(inbound.status).toBe('aborted');
  });
});
