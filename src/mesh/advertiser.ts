import type { PrivateKey } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import type { Logger } from 'pino';
import { canonicalJson } from '../core/index.js';
import { modelCid, recordKey } from './dht-keys.js';
import { MAX_RECORD_BYTES, RECORD_FORMAT_VERSION, signRecord, type ModelAdvert, type RecordPayload } from './node-record.js';

export interface Advertisement {
  models: ModelAdvert[];
  capacity: { maxConcurrent: number; inFlight: number };
  /** The gateway record of the gateway this node speaks for (federation), carried in the node record. */
  gateway?: string;
}

export interface AdvertiserOptions {
  peerId: string;
  privateKey: PrivateKey;
  version: string;
  dht: KadDHT;
  addresses: () => string[];
  /** Pushes the new record to connected peers (record exchange). */
  pushToPeers: () => Promise<void>;
  ttlMs: number;
  refreshBeforeMs: number;
  dhtTimeoutMs: number;
  clock: () => number;
  logger: Logger;
}

/** Share of max concurrency by which in-flight must move before the change is worth a new record. */
const CAPACITY_CHANGE_SHARE = 0.25;

async function drain(events: AsyncIterable<unknown>): Promise<void> {
  for await (const _event of events);
}

/**
 * Publishes this node's signed record at `/meshgate/<peerId>` and provider records for each model it serves.
 * Republishes before expiry, when the model list changes and when capacity moves a lot; withdraws on stop by
 * publishing a tombstone with a higher sequence number (DHT values cannot be deleted).
 */
export class Advertiser {
  readonly #options: AdvertiserOptions;
  #ad: Advertisement = { models: [], capacity: { maxConcurrent: 0, inFlight: 0 } };
  #published: RecordPayload | undefined;
  #record: Uint8Array | undefined;
  #seq = 0;
  #provided = new Set<string>();
  #refreshTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  /** Publishing starts with start() (libp2p must be running) and ends with withdraw(). */
  #active = false;

  constructor(options: AdvertiserOptions) {
    this.#options = options;
  }

  /** The signed bytes of the current record (what the record exchange hands out). */
  get record(): Uint8Array | undefined {
    return this.#record;
  }

  get payload(): RecordPayload | undefined {
    return this.#published;
  }

  /** Updates what is advertised; republishes only on a model change or a large capacity change. */
  update(ad: Advertisement): void {
    const previous = this.#published;
    this.#ad = { models: ad.models.map((m) => ({ ...m })), capacity: { ...ad.capacity }, ...(ad.gateway ? { gateway: ad.gateway } : {}) };
    if (this.#active && (!previous || this.#needsRepublish(previous))) void this.publish();
  }

  #needsRepublish(previous: RecordPayload): boolean {
    const { models, capacity } = this.#ad;
    if (canonicalJson(models) !== canonicalJson(previous.models)) return true;
    if (this.#ad.gateway !== previous.gateway) return true;
    if (capacity.maxConcurrent !== previous.capacity.maxConcurrent) return true;
    const threshold = Math.max(1, Math.ceil(capacity.maxConcurrent * CAPACITY_CHANGE_SHARE));
    return Math.abs(capacity.inFlight - previous.capacity.inFlight) >= threshold;
  }

  /** Begins publishing: the first record now, then refreshes and republishes on change. */
  start(): Promise<void> {
    this.#active = true;
    return this.publish();
  }

  /** Publishes now; concurrent calls coalesce into one more run after the current one. */
  publish(): Promise<void> {
    if (!this.#active) return Promise.resolve();
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#publishOnce(false);
        } while (this.#again && this.#active);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** Stops refreshing and publishes a tombstone so peers drop this node at once rather than at expiry. */
  async withdraw(): Promise<void> {
    if (!this.#active) return;
    this.#active = false;
    await this.#running?.catch(() => undefined);
    clearTimeout(this.#refreshTimer); // after the run in progress, which may have armed it
    if (this.#published) await this.#publishOnce(true);
  }

  async #publishOnce(withdrawn: boolean): Promise<void> {
    const { peerId, privateKey, version, clock, ttlMs, refreshBeforeMs, dht, dhtTimeoutMs, logger } = this.#options;
    const now = clock();
    // Starting from the clock keeps sequence numbers rising across restarts without storing them.
    this.#seq = Math.max(this.#seq + 1, now);
    const payload: RecordPayload = {
      v: RECORD_FORMAT_VERSION,
      peerId,
      addrs: this.#options.addresses().slice(0, 32),
      models: withdrawn ? [] : this.#ad.models,
      capacity: this.#ad.capacity,
      version,
      seq: this.#seq,
      issuedAt: now,
      expiresAt: now + ttlMs,
      ...(withdrawn ? { withdrawn: true } : {}),
      ...(this.#ad.gateway && !withdrawn ? { gateway: this.#ad.gateway } : {}),
    };
    let record = await signRecord(payload, privateKey);
    while (record.byteLength > MAX_RECORD_BYTES && payload.models.length > 0) {
      // Peers reject oversized records outright; advertising fewer models beats advertising none.
      payload.models = payload.models.slice(0, Math.floor(payload.models.length * 0.9));
      record = await signRecord(payload, privateKey);
    }
    if (payload.models.length < (withdrawn ? 0 : this.#ad.models.length)) {
      logger.warn({ advertised: payload.models.length, served: this.#ad.models.length }, 'mesh: record too large, advertising fewer models');
    }
    this.#record = record;
    this.#published = payload;
    if (!withdrawn) {
      clearTimeout(this.#refreshTimer);
      this.#refreshTimer = setTimeout(() => void this.publish(), Math.max(1000, ttlMs - refreshBeforeMs));
      this.#refreshTimer.unref();
    }
    const results = await Promise.allSettled([
      drain(dht.put(recordKey(peerId), this.#record, { signal: AbortSignal.timeout(dhtTimeoutMs) })),
      this.#options.pushToPeers(),
      ...(withdrawn ? [] : this.#provideModels()),
    ]);
    const failed = results.filter((r) => r.status === 'rejected').length;
    logger.debug({ seq: payload.seq, models: payload.models.length, withdrawn, failed }, 'mesh: record published');
  }

  /** Provider records are hints only (they cannot be withdrawn); the signed record says what is served. */
  #provideModels(): Promise<void>[] {
    const { dht, dhtTimeoutMs } = this.#options;
    const ids = new Set(this.#ad.models.map((m) => m.id));
    const tasks: Promise<void>[] = [];
    for (const id of this.#provided) {
      if (!ids.has(id)) {
        this.#provided.delete(id);
        tasks.push(modelCid(id).then((cid) => dht.cancelReprovide(cid)));
      }
    }
    for (const id of ids) {
      this.#provided.add(id);
      tasks.push(modelCid(id).then((cid) => drain(dht.provide(cid, { signal: AbortSignal.timeout(dhtTimeoutMs) }))));
    }
    return tasks;
  }
}
