import type { Libp2p, PeerInfo } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import type { Logger } from 'pino';
import { modelCid, recordKey } from './dht-keys.js';
import type { RecordPayload } from './node-record.js';
import type { PeerScores } from './peer-scores.js';
import type { RecordCache } from './record-cache.js';

/** Providers looked at per DHT query: enough for failover, bounded so one query stays cheap. */
const MAX_PROVIDERS = 20;

export interface RankedPeer {
  peerId: string;
  record: RecordPayload;
  score: number;
}

export interface PeerFinderOptions {
  selfId: string;
  libp2p: Libp2p;
  dht: KadDHT;
  cache: RecordCache;
  scores: PeerScores;
  isAllowed: (peerId: string) => boolean;
  /** Fetches a connected peer's record directly (record exchange); false if that failed. */
  exchange: (peerId: string) => Promise<boolean>;
  /** Verifies and caches a record found in the DHT. */
  acceptRecord: (bytes: Uint8Array, peerId: string) => Promise<void>;
  dhtTimeoutMs: number;
  /** While known peers serve a model, the DHT is still asked for others in the background at most this often. */
  refreshMs?: number;
  clock?: () => number;
  logger: Logger;
}

const DEFAULT_REFRESH_MS = 60_000;
/** At most this share of the rankings that could, put an unmeasured peer ahead of measured healthy ones (exploration). */
export const EXPLORATION_SHARE = 0.05;

function blendedPrice(record: RecordPayload, model: string): number | undefined {
  const price = record.models.find((m) => m.id === model)?.price;
  return price ? price.inputPerMTok + price.outputPerMTok : undefined;
}

/**
 * Finds peers serving a model: the cache of verified records first (fed by the record exchange with connected
 * peers), else a DHT look-up of the model's provider records followed by each provider's signed record, which is
 * the truth (provider records are unsigned hints). Ranked by this node's own measurements. While the cache answers,
 * a background look-up (at most every `refreshMs` per model) still brings in peers this node is not connected to,
 * so the per-model index does not stop at the first peers met.
 */
export class PeerFinder {
  readonly #options: PeerFinderOptions;
  readonly #lastLookUp = new Map<string, number>();
  readonly #refreshing = new Set<string>();
  /** Rankings that had an unmeasured peer behind a measured healthy one, and how many of them put it first. */
  #choices = 0;
  #explorations = 0;

  constructor(options: PeerFinderOptions) {
    this.#options = options;
  }

  /**
   * Peers serving `model`, best first. `timeoutMs` bounds the DHT look-up made when no known peer serves it (a timer
   * only then: the usual answer comes from the record cache, and a timer armed per request for a look-up that does not
   * happen would still fire later, with its abort event, for every request).
   */
  async find(model: string, opts: { exclude?: string[]; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<RankedPeer[]> {
    const exclude = new Set([this.#options.selfId, ...(opts.exclude ?? [])]);
    let records = this.#eligible(model, exclude);
    if (records.length === 0) {
      this.#remember(model);
      await this.#lookUp(model, exclude, opts.signal, opts.timeoutMs);
      records = this.#eligible(model, exclude);
    } else {
      this.#refreshInBackground(model);
    }
    return this.rank(records, model);
  }

  /** When the DHT was last asked about `model`; bounded, as model names come from clients. */
  #remember(model: string): void {
    if (this.#lastLookUp.size >= 10_000) this.#lastLookUp.clear();
    this.#lastLookUp.set(model, this.#now());
  }

  #now(): number {
    return (this.#options.clock ?? Date.now)();
  }

  #refreshInBackground(model: string): void {
    const last = this.#lastLookUp.get(model);
    if (this.#refreshing.has(model) || (last !== undefined && this.#now() - last < (this.#options.refreshMs ?? DEFAULT_REFRESH_MS))) return;
    this.#remember(model);
    this.#refreshing.add(model);
    const known = this.#options.cache.servingModel(model).map((r) => r.peerId);
    void this.#lookUp(model, new Set([this.#options.selfId, ...known]))
      .catch(() => undefined)
      .finally(() => this.#refreshing.delete(model));
  }

  /**
   * Measured healthy peers first (by score), then peers never measured, then measured unhealthy ones: a score
   * computed from priors and a price the peer chose itself (0 costs nothing to advertise) never outranks what this
   * node measured. Unmeasured peers still get traffic when the measured ones fail, and up front in at most
   * EXPLORATION_SHARE of rankings, so a new peer can earn a measurement.
   */
  rank(records: RecordPayload[], model: string): RankedPeer[] {
    const { scores } = this.#options;
    const tier = (peerId: string) => (scores.isHealthy(peerId) ? 0 : scores.isMeasured(peerId) ? 2 : 1);
    const ranked = records
      .map((record) => ({ peerId: record.peerId, record, score: scores.score(record.peerId, blendedPrice(record, model)), tier: tier(record.peerId) }))
      .sort((a, b) => a.tier - b.tier || b.score - a.score);
    // Counted only when there is a choice to make (a measured healthy peer first, an unmeasured one behind it), so
    // rankings without an unmeasured peer do not bank explorations that a newcomer would then get in a burst.
    const explore = ranked.findIndex((p) => p.tier === 1);
    if (explore > 0 && ranked[0]!.tier === 0) {
      this.#choices++;
      if (this.#explorations + 1 <= EXPLORATION_SHARE * this.#choices) {
        this.#explorations++;
        ranked.unshift(...ranked.splice(explore, 1));
      }
    }
    return ranked.map(({ tier: _tier, ...peer }) => peer);
  }

  #eligible(model: string, exclude: Set<string>): RecordPayload[] {
    const { cache, scores, isAllowed } = this.#options;
    return cache.servingModel(model).filter((r) => !exclude.has(r.peerId) && isAllowed(r.peerId) && !scores.isBanned(r.peerId));
  }

  async #lookUp(model: string, exclude: Set<string>, signal?: AbortSignal, timeoutMs = Infinity): Promise<void> {
    const { dht, dhtTimeoutMs, logger } = this.#options;
    const querySignal = AbortSignal.any([AbortSignal.timeout(Math.min(dhtTimeoutMs, timeoutMs)), ...(signal ? [signal] : [])]);
    const providers = new Map<string, PeerInfo>();
    try {
      for await (const event of dht.findProviders(await modelCid(model), { signal: querySignal })) {
        if (event.name !== 'PROVIDER') continue;
        for (const info of event.providers) {
          const id = info.id.toString();
          if (!exclude.has(id) && this.#options.isAllowed(id)) providers.set(id, info);
        }
        if (providers.size >= MAX_PROVIDERS) break;
      }
    } catch (err) {
      logger.debug({ model, err: (err as Error).message }, 'mesh: provider look-up ended early');
    }
    await Promise.all([...providers.values()].map((info) => this.#fetchRecord(info, querySignal)));
  }

  async #fetchRecord(info: PeerInfo, signal: AbortSignal): Promise<void> {
    const { libp2p, dht, logger } = this.#options;
    const peerId = info.id.toString();
    if (info.multiaddrs.length > 0) await libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }).catch(() => undefined);
    if (libp2p.getConnections(info.id).length > 0 && (await this.#options.exchange(peerId))) return;
    try {
      let best: Uint8Array | undefined;
      // kad-dht validates every value it receives and yields the selector's pick last.
      for await (const event of dht.get(recordKey(peerId), { signal })) {
        if (event.name === 'VALUE') best = event.value;
      }
      if (best) await this.#options.acceptRecord(best, peerId);
    } catch (err) {
      logger.debug({ peer: peerId, err: (err as Error).message }, 'mesh: record look-up failed');
    }
  }
}
