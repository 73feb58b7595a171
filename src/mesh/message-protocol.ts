import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';

/** Largest JSON message on a request/response protocol (receipts for reconciliation come in pages below this). */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

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
export function messageStreamHandler(handler: MessageHandler, timeoutMs: number, admit?: MessageAdmission) {
  return async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_MESSAGE_BYTES });
      // Refused before the message is read: a peer over its allowance costs one short answer, nothing more.
      const refusal = admit?.(connection.remotePeer.toString());
      if (refusal) {
        await lp.write(encode({ ok: false, error: refusal }), { signal });
        await stream.close({ signal });
        return;
      }
      const request = decode((await lp.read({ signal })).subarray());
      const reply = await handler(request, connection.remotePeer.toString()).catch((err: Error) => ({ ok: false, error: err.message }));
      await lp.write(encode(reply), { signal });
      await stream.close({ signal });
    } catch (err) {
      stream.abort(err as Error);
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
