import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';

/** Largest JSON answer on a request/response protocol (receipts for reconciliation come in pages below this). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * Largest message a node reads from a peer. The largest an honest node sends is a page of 500 acknowledgements
 * (about 1 KiB each); answers, which a node reads only for what it asked, may be larger (MAX_MESSAGE_BYTES).
 */
export const MAX_INBOUND_MESSAGE_BYTES = 1024 * 1024;
/**
 * Messages of one peer read or answered at once. Each may hold a buffer of up to MAX_INBOUND_MESSAGE_BYTES until
 * its timeout, and the per-peer message rate admits a burst: without this a peer could open hundreds of streams that
 * announce a large message and trickle it. An honest node sends acknowledgements in batches, a dispute as it arises
 * and reconciliation questions one after the other, so it stays far below.
 */
export const MAX_MESSAGES_IN_FLIGHT_PER_PEER = 16;

export type MessageHandler = (message: unknown, peerId: string) => Promise<unknown>;
/** Decides before a message is read whether `peerId` may send one now: undefined, or the error to answer with. */
export type MessageAdmission = (peerId: string) => string | undefined;

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
const decode = (bytes: Uint8Array) => JSON.parse(new TextDecoder().decode(bytes)) as unknown;

/**
 * A request/response protocol of one length-prefixed JSON message each way per stream (used by
 * `/meshgate/ledger/1.0.0`). Bytes are framed with an unsigned-varint length prefix (lpStream), never assumed to
 * arrive as one chunk.
 */
/** Per-protocol bounds on what a peer may send (defaults: the ledger's). */
export interface MessageBounds {
  /** Largest message read from a peer. */
  maxMessageBytes?: number;
  /** Messages of one peer read or answered at once. */
  maxInFlightPerPeer?: number;
}

export function messageStreamHandler(handler: MessageHandler, timeoutMs: number, admit?: MessageAdmission, bounds: MessageBounds = {}) {
  const maxMessageBytes = bounds.maxMessageBytes ?? MAX_INBOUND_MESSAGE_BYTES;
  const maxInFlight = bounds.maxInFlightPerPeer ?? MAX_MESSAGES_IN_FLIGHT_PER_PEER;
  const inFlight = new Map<string, number>();
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(timeoutMs);
    const peerId = connection.remotePeer.toString();
    const held = inFlight.get(peerId) ?? 0;
    let counted = false;
    try {
      const lp = lpStream(stream, { maxDataLength: maxMessageBytes });
      // Refused before the message is read: a peer over its allowance costs one short answer, nothing more.
      const refusal = held >= maxInFlight ? `busy: ${held} messages of this peer are being handled already` : admit?.(peerId);
      if (refusal) {
        await lp.write(encode({ ok: false, error: refusal }), { signal });
        await stream.close({ signal });
        return;
      }
      inFlight.set(peerId, held + 1);
      counted = true;
      const request = decode((await lp.read({ signal })).subarray());
      const reply = await handler(request, peerId).catch((err: Error) => ({ ok: false, error: err.message }));
      await lp.write(encode(reply), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
    } finally {
      if (counted) {
        const left = (inFlight.get(peerId) ?? 1) - 1;
        if (left > 0) inFlight.set(peerId, left);
        else inFlight.delete(peerId);
      }
    }
  };
}

export async function sendMessage(libp2p: Libp2p, peerId: string, protocol: string, message: unknown, timeoutMs: number): Promise<unknown> {
  const signal = AbortSignal.timeout(timeoutMs);
  const stream = await libp2p.dialProtocol(peerIdFromString(peerId), protocol, { signal });
  try {
    const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES });
    await lp.write(encode(message), { signal });
    const reply = decode((await lp.read({ signal })).subarray());
    await stream.close({ signal });
    return reply;
  } catch (err) {
    stream.abort(err as Error);
    throw err;
  }
}
