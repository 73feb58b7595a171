import { GatewayError, UpstreamError } from '../errors/index.js';
import type { CircuitBreaker } from './circuit-breaker.js';

export interface FailoverTarget {
  /** Provider id or `peer:<peerId>`. */
  id: string;
  /** Extra attempts on this target after a retryable failure. */
  retries: number;
  breaker?: CircuitBreaker;
}

export interface AttemptRecord {
  target: string;
  ok: boolean;
  status?: number;
  code?: string;
  error?: string;
  durationMs: number;
  /** The provider keys the attempt used, by label, with the status of each refusal (providers with several keys). */
  keys?: Array<{ key: string; status?: number }>;
}

export interface FailoverOptions {
  maxAttempts: number;
  maxRetryWaitMs: number;
  backoffMs: number;
  /** The client's signal: when it aborts, failover stops at once. */
  signal: AbortSignal;
  onFailover?: (from: string, to: string) => void;
  /** Receives every attempt as it ends (also when all fail), for records and headers. */
  attempts?: AttemptRecord[];
  /**
   * Panic mode (default on): when every target's circuit is open, the request still goes to the target whose
   * cool-down ends soonest instead of being refused. Off: refused with 503 `providers_unavailable`.
   */
  panic?: boolean;
  /** Called with the target a request goes to in panic mode. */
  onPanic?: (target: string) => void;
  /** What the attempt that just ended adds to its record (the keys it used). */
  annotate?: () => Pick<AttemptRecord, 'keys'> | undefined;
}

export interface FailoverResult<T, Target extends FailoverTarget> {
  value: T;
  target: Target;
  attempts: AttemptRecord[];
}

type Verdict = 'retry' | 'next' | 'stop';

/**
 * Whether a request that failed with this error could still be answered elsewhere (the next tier of targets: mesh
 * peers after local providers, more peers after the known ones): rate limits, upstream failures, overload, timeouts.
 * Anything else (the request's own fault, a refusal by policy) is the answer.
 */
export const answerableElsewhere = (err: unknown) => err instanceof GatewayError && [429, 502, 503, 504].includes(err.status);

/**
 * What a failure means for the next step:
 * - retryable upstream failures (connection, timeout, 408/409/429/5xx) are retried on the same target, then the next;
 * - 401/402/403/404 from an upstream are that upstream's problem (bad key, out of credit, model not deployed
 *   there; a peer over its credit limit): next target;
 * - a translation that the target cannot express (400 raised by us, not by the upstream): next target;
 * - a target full by its own `max_concurrent` (`provider_at_capacity`, this node's own bookkeeping, not a failure of
 *   the target): next target at once, without feeding its breaker;
 * - any other 4xx from an upstream is the request's fault: stop and report it.
 */
function classify(err: unknown): Verdict {
  if (err instanceof UpstreamError && err.code === 'provider_at_capacity') return 'next';
  if (err instanceof UpstreamError) {
    if (err.retryable) return 'retry';
    const status = err.upstreamStatus ?? 0;
    return status === 401 || status === 402 || status === 403 || status === 404 ? 'next' : 'stop';
  }
  if (err instanceof GatewayError && err.status === 400) return 'next';
  return 'stop';
}

/** Whether a failure says the target is unhealthy (feeds the circuit breaker). */
function countsAgainstTarget(err: unknown): boolean {
  if (!(err instanceof UpstreamError) || err.code === 'provider_at_capacity') return false;
  const status = err.upstreamStatus;
  if (status === undefined) return true; // connection error or timeout
  return status >= 500 || status === 401 || status === 402 || status === 403 || status === 408;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Tries targets in order until one succeeds. `attempt` must resolve only once the response is committed-safe (for a
 * stream: its first event arrived), so failover never happens after a byte reached the client.
 */
export async function runFailover<T, Target extends FailoverTarget>(
  targets: Target[],
  attempt: (target: Target, attemptNumber: number) => Promise<T>,
  options: FailoverOptions,
): Promise<FailoverResult<T, Target>> {
  const attempts: AttemptRecord[] = options.attempts ?? [];
  const failures: Array<{ target: string; err: unknown }> = [];
  const skippedOpen: Target[] = [];
  let previous: string | undefined;

  /** One attempt on `target`: its record, and its verdict on the target's breaker unless it is a panic attempt. */
  const tryOnce = async (target: Target, panic: boolean): Promise<{ value: T } | { err: unknown }> => {
    if (previous !== undefined && previous !== target.id) options.onFailover?.(previous, target.id);
    previous = target.id;
    const started = performance.now();
    try {
      const value = await attempt(target, attempts.length + 1);
      target.breaker?.onSuccess();
      const record: AttemptRecord = { target: target.id, ok: true, durationMs: performance.now() - started };
      const annotation = options.annotate?.();
      attempts.push(annotation ? Object.assign(record, annotation) : record);
      return { value };
    } catch (err) {
      // A panic attempt holds no probe slot and is no probe: its failure leaves the breaker's schedule as it was.
      if (options.signal.aborted) {
        if (!panic) target.breaker?.onNeutral();
        throw err;
      }
      const gatewayError = err instanceof GatewayError ? err : undefined;
      attempts.push({
        target: target.id, ok: false, durationMs: performance.now() - started,
        status: err instanceof UpstreamError ? err.upstreamStatus : gatewayError?.status,
        code: gatewayError?.code ?? 'error',
        error: gatewayError?.message ?? (err as Error).message,
        ...options.annotate?.(),
      });
      failures.push({ target: target.id, err });
      if (!panic) {
        if (countsAgainstTarget(err)) target.breaker?.onFailure();
        else target.breaker?.onNeutral();
      }
      return { err };
    }
  };

  for (const target of targets) {
    // A breaker of this node answers at once: awaited only when it is a shared one that asks its store.
    let acquired = target.breaker ? target.breaker.tryAcquire() : true;
    if (typeof acquired !== 'boolean') acquired = await acquired;
    if (!acquired) {
      skippedOpen.push(target);
      continue;
    }
    for (let round = 0; round <= target.retries; round++) {
      if (attempts.length >= options.maxAttempts) break;
      const result = await tryOnce(target, false);
      if ('value' in result) return { value: result.value, target, attempts };
      const { err } = result;
      const verdict = classify(err);
      if (verdict === 'stop') throw err;
      if (verdict === 'next' || round === target.retries) break;
      if (target.breaker && target.breaker.state() !== 'closed') break;
      const retryAfterMs = err instanceof UpstreamError && err.retryAfter !== undefined ? err.retryAfter * 1000 : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > options.maxRetryWaitMs) break;
      const backoff = options.backoffMs * 2 ** round * (0.5 + Math.random() / 2);
      await sleep(retryAfterMs ?? backoff, options.signal);
    }
    if (attempts.length >= options.maxAttempts) break;
  }

  // Panic mode, as Envoy's panic threshold: every target was skipped for an open circuit and none was tried. A refusal
  // would last the whole cool-down even once the provider has recovered; instead the target whose cool-down ends
  // soonest gets the request, once. Its success closes the circuit; its failure is the answer (and leaves the
  // cool-down and the next probe where they were).
  if (failures.length === 0 && skippedOpen.length > 0 && options.panic !== false && attempts.length < options.maxAttempts) {
    const target = skippedOpen.reduce((soonest, t) => ((t.breaker?.retryInMs() ?? 0) < (soonest.breaker?.retryInMs() ?? 0) ? t : soonest));
    options.onPanic?.(target.id);
    const result = await tryOnce(target, true);
    if ('value' in result) return { value: result.value, target, attempts };
    if (classify(result.err) === 'stop') throw result.err;
  }
  throw exhausted(failures, skippedOpen);
}

/** The error for "nothing worked", saying which targets were tried and why, with the most useful status. */
function exhausted(failures: Array<{ target: string; err: unknown }>, skippedOpen: FailoverTarget[]): GatewayError {
  const tried = failures.map(({ target, err }) => `${target}: ${err instanceof Error ? err.message : String(err)}`);
  const skipped = skippedOpen.map((t) => t.id);
  const details = { tried, ...(skipped.length ? { circuit_open: skipped } : {}) };
  if (failures.length === 0) {
    const retryIn = Math.min(...skippedOpen.map((t) => t.breaker?.retryInMs() ?? 0));
    return new GatewayError('providers_unavailable', `All providers for this model are unavailable (circuit open: ${skipped.join(', ')}).`, {
      retryAfter: Math.max(1, Math.ceil(retryIn / 1000)), details,
    });
  }
  const errors = failures.map((f) => f.err);
  // Every failure was our own refusal to translate (e.g. n > 1 for Anthropic): that is the client's answer.
  if (errors.every((e) => e instanceof GatewayError && !(e instanceof UpstreamError) && e.status === 400)) return errors[0] as GatewayError;
  const upstream = errors.filter((e): e is UpstreamError => e instanceof UpstreamError);
  const summary = `All providers failed (${tried.join('; ')})`;
  if (upstream.length === errors.length && upstream.every((e) => e.code === 'provider_at_capacity')) {
    return new GatewayError('provider_at_capacity', `Every provider for this model is at its max_concurrent limit (${tried.join('; ')})`, { retryAfter: 1, details });
  }
  if (upstream.length === errors.length && upstream.every((e) => e.upstreamStatus === 429)) {
    const retryAfter = Math.min(...upstream.map((e) => e.retryAfter ?? 1));
    return new GatewayError('upstream_rate_limited', summary, { retryAfter, details });
  }
  if (upstream.length === errors.length && upstream.every((e) => e.code === 'upstream_timeout')) {
    return new GatewayError('upstream_timeout', summary, { details });
  }
  const last = errors[errors.length - 1];
  // An upstream 401/402/403 means the gateway's provider key or account is wrong: not the client's fault, so a 502.
  if (last instanceof UpstreamError && !last.retryable && last.upstreamStatus !== undefined && last.upstreamStatus < 500 && ![401, 402, 403].includes(last.upstreamStatus)) {
    return new GatewayError(last.code, summary, { status: last.status, details });
  }
  return new GatewayError('upstream_error', summary, { details });
}
