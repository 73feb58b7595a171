import type { Secret } from '../core/index.js';
import { providerKeyLabels, type ProviderConfig } from '../core-config/index.js';

export interface PoolKey {
  label: string;
  secret: Secret;
  weight: number;
  maxConcurrent?: number;
}

/** A key taken for one upstream request; `release()` gives its slot back (idempotent). */
export interface KeyLease {
  readonly label: string;
  readonly secret: Secret;
  release(): void;
}

interface KeyState extends PoolKey {
  inFlight: number;
  /** Smooth weighted round robin's running weight (nginx's algorithm: even spread, heavier keys more often). */
  current: number;
  restingUntil: number;
  /** Refusals in a row: the rest doubles with each. */
  strikes: number;
}

export interface KeyPoolOptions {
  restMs: number;
  maxRestMs: number;
  now?: () => number;
}

/**
 * The keys of one provider. Requests are spread over them by weight; a key the provider refused (401/403/429) rests
 * for a back-off that doubles with each refusal in a row (a 429's Retry-After, when longer, wins), while the others
 * carry on; its first success clears the count. Keys are known by label only: the value never leaves the Secret.
 */
export class KeyPool {
  private readonly keys: KeyState[];
  private readonly now: () => number;

  constructor(keys: PoolKey[], private readonly options: KeyPoolOptions) {
    this.keys = keys.map((k) => ({ ...k, inFlight: 0, current: 0, restingUntil: 0, strikes: 0 }));
    this.now = options.now ?? Date.now;
  }

  get labels(): string[] {
    return this.keys.map((k) => k.label);
  }

  /** The next key to use, skipping resting, full and `excluded` keys; undefined when none is usable. */
  acquire(excluded: ReadonlySet<string> = new Set()): KeyLease | undefined {
    const now = this.now();
    const usable = this.keys.filter((k) => !excluded.has(k.label) && k.restingUntil <= now && (k.maxConcurrent === undefined || k.inFlight < k.maxConcurrent));
    if (usable.length === 0) return undefined;
    let total = 0;
    let chosen = usable[0]!;
    for (const key of usable) {
      key.current += key.weight;
      total += key.weight;
      if (key.current > chosen.current) chosen = key;
    }
    chosen.current -= total;
    chosen.inFlight += 1;
    let released = false;
    return {
      label: chosen.label,
      secret: chosen.secret,
      release: () => {
        if (released) return;
        released = true;
        chosen.inFlight -= 1;
      },
    };
  }

  /** The provider refused this key: rest it. Returns the rest in ms. */
  rest(label: string, retryAfterMs?: number): number {
    const key = this.keys.find((k) => k.label === label);
    if (!key) return 0;
    const backoff = Math.min(this.options.restMs * 2 ** key.strikes, this.options.maxRestMs);
    const rest = Math.min(Math.max(backoff, retryAfterMs ?? 0), this.options.maxRestMs);
    key.strikes += 1;
    key.restingUntil = this.now() + rest;
    return rest;
  }

  /** The key was accepted: its refusals in a row start again from zero. */
  accepted(label: string): void {
    const key = this.keys.find((k) => k.label === label);
    if (key) key.strikes = 0;
  }

  /** Milliseconds until the first resting key is back (0 when one is usable now or none rests). */
  nextBackInMs(): number {
    const now = this.now();
    const waits = this.keys.map((k) => k.restingUntil - now).filter((ms) => ms > 0);
    return waits.length === this.keys.length ? Math.min(...waits) : 0;
  }
}

/**
 * The pool of a provider with `api_keys` or `keys`; undefined for a single `api_key` (or none), which is sent as
 * it is: with nothing to rotate to, resting it would only refuse requests the provider might take.
 */
export function keyPoolFor(config: ProviderConfig, now?: () => number): KeyPool | undefined {
  const labels = providerKeyLabels(config);
  const keys: PoolKey[] | undefined = config.keys
    ? config.keys.map((k, i) => ({ label: labels[i]!, secret: k.key, weight: k.weight, ...(k.max_concurrent ? { maxConcurrent: k.max_concurrent } : {}) }))
    : config.api_keys?.map((secret, i) => ({ label: labels[i]!, secret, weight: 1 }));
  if (!keys) return undefined;
  return new KeyPool(keys, { restMs: config.key_rest_seconds * 1000, maxRestMs: config.key_rest_max_seconds * 1000, ...(now ? { now } : {}) });
}
