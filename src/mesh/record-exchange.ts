import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import { PerPeerRate } from '../core/index.js';
import { MAX_RECORD_BYTES } from './node-record.js';

/**
 * `/meshgate/record/1.0.0` (protocol/node-record.md, "Record exchange"): the dialer sends its current signed record as one
 * length-prefixed frame (empty = none), the listener answers with its own, and both close. Run on every new
 * connection and after each republish, so peers on a LAN learn records at once instead of through a DHT query.
 */
export const RECORD_PROTOCOL = '/meshgate/record/1.0.0';

/**
 * Exchanges a listener serves one peer at once, over all its connections (protocol/node-record.md, "Record
 * exchange"): a dialer keeps one in flight per peer, so two leave room for a reconnect while the old stream times
 * out. Beyond it a stream is reset unread — a peer opening hundreds of streams gets no record read, no signature
 * checked and no timer per stream.
 */
export const MAX_RECORD_EXCHANGES_PER_PEER = 2;

/**
 * Exchanges a listener serves one peer per second, with a burst of `RECORD_EXCHANGE_BURST` (protocol/node-record.md,
 * "Record exchange"): the in-flight cap bounds a peer's exchanges at once, this bounds them over time — each one costs
 * a record parse and a signature check, and a peer could otherwise run them back to back. An honest node exchanges on
 * connecting and after a republish; one refused is harmless (the record is in the DHT too, and the next exchange
 * carries the newest). A stream over the rate is reset before anything is read, as one over the cap.
 */
export const RECORD_EXCHANGES_PER_SECOND = 1;
export const RECORD_EXCHANGE_BURST = 10;

export interface RecordExchangeOptions {
  ownRecord: () => Uint8Array | undefined;
  /** A record received from `peerId` (verified by the callee; a bad one is dropped). */
  onRecord: (bytes: Uint8Array, peerId: string) => Promise<void>;
  timeoutMs: number;
  /** The rate's clock (tests). */
  clock?: () => number;
}

export class RecordExchange {
  readonly #options: RecordExchangeOptions;
  /** Inbound exchanges being served, per peer. */
  readonly #serving = new Map<string, number>();
  /** The outbound exchange in flight per peer, and the one queued behind it (which sends the record current then). */
  readonly #dialing = new Map<string, Promise<boolean>>();
  readonly #queued = new Map<string, Promise<boolean>>();
  readonly #rate: PerPeerRate;

  constructor(options: RecordExchangeOptions) {
    this.#options = options;
    this.#rate = new PerPeerRate(RECORD_EXCHANGES_PER_SECOND, options.clock, RECORD_EXCHANGE_BURST / RECORD_EXCHANGES_PER_SECOND);
  }

  readonly handle = async (stream: Stream, connection: Connection): Promise<void> => {
    const peerId = connection.remotePeer.toString();
    const serving = this.#serving.get(peerId) ?? 0;
    if (serving >= MAX_RECORD_EXCHANGES_PER_PEER) {
      stream.abort(new Error(`more than ${MAX_RECORD_EXCHANGES_PER_PEER} record exchanges in flight from this peer`));
      return;
    }
    if (!this.#rate.admit(peerId)) {
      stream.abort(new Error(`more than ${RECORD_EXCHANGES_PER_SECOND} record exchange a second from this peer`));
      return;
    }
    this.#serving.set(peerId, serving + 1);
    const signal = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const lp = lpStream(stream, { maxDataLength: MAX_RECORD_BYTES });
      const theirs = (await lp.read({ signal })).subarray();
      await lp.write(this.#options.ownRecord() ?? new Uint8Array(0), { signal });
      await stream.close({ signal });
      if (theirs.byteLength > 0) await this.#options.onRecord(theirs, peerId);
    } catch (err) {
      stream.abort(err as Error);
    } finally {
      const left = (this.#serving.get(peerId) ?? 1) - 1;
      if (left > 0) this.#serving.set(peerId, left);
      else this.#serving.delete(peerId);
    }
  };

  /**
   * Swaps records with a connected (or dialable) peer; false if the exchange failed. One exchange per peer is in
   * flight at a time: asked again meanwhile, one more runs after it (sending the record current by then), and any
   * further ask joins that one — a burst of republishes never opens more streams to a peer than it accepts.
   */
  exchange(libp2p: Libp2p, peerId: string): Promise<boolean> {
    const queued = this.#queued.get(peerId);
    if (queued) return queued;
    const current = this.#dialing.get(peerId);
    if (current) {
      const next = current.then(() => {
        this.#queued.delete(peerId);
        return this.exchange(libp2p, peerId);
      });
      this.#queued.set(peerId, next);
      return next;
    }
    const run = this.#exchangeNow(libp2p, peerId).finally(() => this.#dialing.delete(peerId));
    this.#dialing.set(peerId, run);
    return run;
  }

  async #exchangeNow(libp2p: Libp2p, peerId: string): Promise<boolean> {
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
