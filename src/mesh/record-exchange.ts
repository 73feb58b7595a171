import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { MAX_RECORD_BYTES } from './node-record.js';

/**
 * `/meshgate/record/1.0.0` (protocol/node-record.md, "Record exchange"): the dialer sends its current signed record as one
 * length-prefixed frame (empty = none), the listener answers with its own, and both close. Run on every new
 * connection and after each republish, so peers on a LAN learn records at once instead of through a DHT query.
 */
export const RECORD_PROTOCOL = '/meshgate/record/1.0.0';

export interface RecordExchangeOptions {
  ownRecord: () => Uint8Array | undefined;
  /** A record received from `peerId` (verified by the callee; a bad one is dropped). */
  onRecord: (bytes: Uint8Array, peerId: string) => Promise<void>;
  timeoutMs: number;
}

export class RecordExchange {
  readonly #options: RecordExchangeOptions;

  constructor(options: RecordExchangeOptions) {
    this.#options = options;
  }

  readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_RECORD_BYTES });
      const theirs = (await lp.read({ signal })).subarray();
      await lp.write(this.#options.ownRecord() ?? new Uint8Array(0), { signal });
      await stream.close({ signal });
      if (theirs.byteLength > 0) await this.#options.onRecord(theirs, connection.remotePeer.toString());
    } catch (err) {
      stream.abort(err as Error);
    }
  };

  /** Swaps records with a connected (or dialable) peer; false if the exchange failed. */
  async exchange(libp2p: Libp2p, peerId: string): Promise<boolean> {
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    let stream: Stream | undefined;
    try {
      stream = await libp2p.dialProtocol(peerIdFromString(peerId), RECORD_PROTOCOL, { signal });
      const lp = lpStream(stream, { maxDataLength: MAX_RECORD_BYTES });
      await lp.write(this.#options.ownRecord() ?? new Uint8Array(0), { signal });
      const theirs = (await lp.read({ signal })).subarray();
      await stream.close({ signal });
      if (theirs.byteLength > 0) await this.#options.onRecord(theirs, peerId);
      return true;
    } catch (err) {
      stream?.abort(err as Error);
      return false;
    }
  }
}
