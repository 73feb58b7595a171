import type { Store } from '../store/index.js';
import type { QualitySignal } from './signal-schema.js';

/** Zero-padded time first, so keys sort by time; the request id after it keeps them unique. */
const signalKey = (signal: QualitySignal) => `${String(signal.time).padStart(15, '0')}!${signal.request_id}`;

export interface SignalFilters {
  request_id?: string;
  model?: string;
  target?: string;
  signal?: QualitySignal['signal'];
  project?: string;
  from?: number;
  to?: number;
  /** Only signals about this principal's requests. */
  principal?: { kind: string; id: string | null };
}

/**
 * Quality signals in LevelDB beside the usage records (`signal`, keyed by time; `signal-request`, request id → key).
 * One signal per request: `put` replaces the previous one atomically and returns it.
 */
export class SignalStore {
  private readonly signals;
  private readonly byRequest;

  constructor(private readonly store: Store) {
    this.signals = store.sublevel<QualitySignal>('signal');
    this.byRequest = store.sublevel<string>('signal-request');
  }

  async get(requestId: string): Promise<QualitySignal | undefined> {
    const key = await this.byRequest.get(requestId);
    return key === undefined ? undefined : this.signals.get(key);
  }

  /** Stores `signal`, replacing the request's previous one (returned). */
  async put(signal: QualitySignal): Promise<QualitySignal | undefined> {
    const previousKey = await this.byRequest.get(signal.request_id);
    const previous = previousKey === undefined ? undefined : await this.signals.get(previousKey);
    const key = signalKey(signal);
    await this.store.db.batch([
      ...(previousKey !== undefined && previousKey !== key ? [{ type: 'del' as const, sublevel: this.signals, key: previousKey }] : []),
      { type: 'put', sublevel: this.signals, key, value: signal },
      { type: 'put', sublevel: this.byRequest, key: signal.request_id, value: key },
    ]);
    return previous;
  }

  /** Signals matching `filters`, newest first, at most `limit`; `before` is a key a previous page ended at. */
  async list(filters: SignalFilters, limit: number, before?: string): Promise<{ data: QualitySignal[]; last?: string; more: boolean }> {
    const data: QualitySignal[] = [];
    const lower = String(filters.from ?? 0).padStart(15, '0');
    const upper = before ?? String(filters.to ?? Number.MAX_SAFE_INTEGER).padStart(15, '0');
    let last: string | undefined;
    for await (const [key, signal] of this.signals.iterator({ gte: lower, lt: upper, reverse: true })) {
      if (!matches(signal, filters)) continue;
      if (data.length === limit) return { data, last, more: true };
      data.push(signal);
      last = key;
    }
    return { data, last, more: false };
  }

  /** Removes the signals given before `before` (epoch ms), in chunks; returns how many. */
  async sweep(before: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const old = await this.signals.iterator({ lt: String(before).padStart(15, '0'), limit: 500 }).all();
      if (old.length === 0) return removed;
      await this.store.db.batch(old.flatMap(([key, signal]) => [
        { type: 'del' as const, sublevel: this.signals, key },
        { type: 'del' as const, sublevel: this.byRequest, key: signal.request_id },
      ]));
      removed += old.length;
    }
  }

  /** Every signal given since `since` (epoch ms), oldest first. */
  async *since(since: number): AsyncGenerator<QualitySignal> {
    for await (const signal of this.signals.values({ gte: String(since).padStart(15, '0') })) yield signal;
  }
}

function matches(signal: QualitySignal, f: SignalFilters): boolean {
  return (f.request_id === undefined || signal.request_id === f.request_id)
    && (f.model === undefined || signal.model === f.model || signal.requested_model === f.model)
    && (f.target === undefined || signal.target === f.target)
    && (f.signal === undefined || signal.signal === f.signal)
    && (f.project === undefined || signal.project === f.project)
    && (f.principal === undefined || (signal.principal.kind === f.principal.kind && signal.principal.id === f.principal.id));
}
