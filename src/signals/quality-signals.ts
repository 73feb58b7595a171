import type { PrincipalRef } from '../core/index.js';
import { GatewayError } from '../errors/index.js';
import type { RecordStore, UsageRecord } from '../records/index.js';
import { complianceError, type Sanitizer } from '../sanitize/index.js';
import { QualityAggregate } from './quality-aggregate.js';
import { DEFAULT_SCORE, type QualitySignal, type SignalInput, type SignalsConfig } from './signal-schema.js';
import type { SignalFilters, SignalStore } from './signal-store.js';

const HOUR_MS = 3_600_000;
/** Signals older than this many half-lives weigh under a millionth: not loaded at start. */
const LOADED_HALF_LIVES = 20;
/** How often signals past the retention period are removed. */
const SWEEP_INTERVAL_MS = 3_600_000;
/** How long a signal waits for the record of a request of this node that is still finishing. */
const RECORD_WAIT_MS = 2_000;
/** Control characters other than tab and newline, removed from notes (they have no place in a shown text). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * Quality signals: taken from the principal that made a request (or the admin), stored beside its record, and
 * aggregated with decay for routing (`scoreOf`).
 */
export class QualitySignalService {
  readonly aggregate: QualityAggregate;
  private sweepTimer?: NodeJS.Timeout;

  private constructor(
    private readonly store: SignalStore,
    private readonly records: RecordStore,
    private readonly sanitizer: Sanitizer,
    config: SignalsConfig,
    private readonly now: () => number,
    private readonly recordWritten?: (id: string, timeoutMs: number) => Promise<boolean>,
  ) {
    this.aggregate = new QualityAggregate({ halfLifeMs: config.half_life_hours * HOUR_MS, minWeight: config.min_weight, now });
  }

  static async open(deps: {
    store: SignalStore; records: RecordStore; sanitizer: Sanitizer; config: SignalsConfig; now?: () => number;
    /** Signals older than this many days are removed (the records' retention); 0 or absent keeps them. */
    retentionDays?: number;
    /** Resolves once the record of a request still finishing is written (false at once for any other id). */
    recordWritten?: (id: string, timeoutMs: number) => Promise<boolean>;
  }): Promise<QualitySignalService> {
    const now = deps.now ?? Date.now;
    const service = new QualitySignalService(deps.store, deps.records, deps.sanitizer, deps.config, now, deps.recordWritten);
    // Signals live as long as the records they are about.
    const retentionMs = (deps.retentionDays ?? 0) * 86_400_000;
    if (retentionMs > 0) {
      await deps.store.sweep(now() - retentionMs);
      service.sweepTimer = setInterval(() => void deps.store.sweep(now() - retentionMs).catch(() => undefined), SWEEP_INTERVAL_MS);
      service.sweepTimer.unref();
    }
    for await (const signal of deps.store.since(now() - LOADED_HALF_LIVES * deps.config.half_life_hours * HOUR_MS)) service.aggregate.add(signal);
    return service;
  }

  /**
   * Stores a signal about one request from `by`. A request that does not exist and one made by someone else get
   * the same 404, so the answer tells nothing about other principals' requests.
   */
  async submit(by: PrincipalRef, input: SignalInput): Promise<{ signal: QualitySignal; replaced: boolean }> {
    const record = await this.recordOf(input.request_id);
    if (!record || !mayRate(by, record)) {
      throw new GatewayError('request_not_found', 'No request with this id is known to this credential.', { param: 'request_id' });
    }
    const signal: QualitySignal = {
      request_id: record.id,
      time: this.now(),
      signal: input.signal,
      score: input.score ?? DEFAULT_SCORE[input.signal],
      note: input.note === undefined ? null : this.cleanNote(input.note),
      by: { kind: by.kind, id: by.id ?? null },
      principal: { kind: record.principal.kind, id: record.principal.id },
      project: record.project,
      requested_model: record.requested_model,
      model: record.model,
      target: targetOf(record),
      // Records written before profiles were recorded have none.
      profile: record.profile ?? null,
    };
    const previous = await this.store.put(signal);
    if (previous) this.aggregate.remove(previous);
    this.aggregate.add(signal);
    return { signal, replaced: previous !== undefined };
  }

  /**
   * A request's record. Its answer reaches the client a moment before the record is written, so for a request the
   * node is still finishing, the record is awaited briefly (a signal sent right after the answer).
   */
  private async recordOf(id: string): Promise<UsageRecord | undefined> {
    const record = await this.records.get(id);
    if (record || !this.recordWritten) return record;
    // Looked up again after a time-out too: the write may have ended between the first look and the wait.
    await this.recordWritten(id, RECORD_WAIT_MS);
    return this.records.get(id);
  }

  close(): void {
    clearInterval(this.sweepTimer);
  }

  /** Signals visible to `by`: the admin sees all, anyone else those about their own requests. */
  list(by: PrincipalRef, filters: Omit<SignalFilters, 'principal'>, limit: number, before?: string) {
    const principal = by.kind === 'admin' ? undefined : { kind: by.kind, id: by.id ?? null };
    return this.store.list({ ...filters, ...(principal ? { principal } : {}) }, limit, before);
  }

  /** Redacted like request text (the compliance gate refuses a note carrying a credential), no control characters. */
  private cleanNote(note: string): string {
    const scanned = this.sanitizer.scanRequest({ note });
    if (scanned.blocked) throw complianceError(scanned.findings);
    return String(scanned.body.note).replace(CONTROL, '');
  }
}

/** The principal that made the request may rate it, and the admin may rate any. */
function mayRate(by: PrincipalRef, record: UsageRecord): boolean {
  if (by.kind === 'admin') return true;
  return record.principal.kind === by.kind && record.principal.id === (by.id ?? null);
}

/** Where the request was served: its provider, `peer:<id>`, `cache`, or null when nothing served it. */
function targetOf(record: UsageRecord): string | null {
  if (record.served_by === 'cache') return 'cache';
  if (record.served_by === 'peer' && record.peer) return `peer:${record.peer}`;
  return record.provider;
}
