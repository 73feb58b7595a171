import { formatMicrosAsUsd } from '../core/index.js';
import { GatewayError, type CodeWithStatus } from '../errors/index.js';
import type { QuotaMetric, QuotaState } from './quota-store.js';

/**
 * Rate-limit headers in the style OpenAI documents (`x-ratelimit-limit-requests`, `x-ratelimit-remaining-tokens`,
 * …; https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers), one set per metric a request was
 * counted against, plus the unsuffixed `x-ratelimit-limit/remaining/reset` for the tightest one. Resets are in
 * seconds from now (delta-seconds, as `Retry-After`); a lifetime limit never resets and has no reset header.
 * Cost is shown in USD.
 */

function display(metric: string, value: number): string {
  return metric === 'cost' ? formatMicrosAsUsd(value).replace(/\.?0+$/, '') : String(value);
}

function secondsUntil(resetAt: number, now: number): number | undefined {
  return Number.isFinite(resetAt) ? Math.max(1, Math.ceil((resetAt - now) / 1000)) : undefined;
}

interface HeaderNames {
  limit: string;
  remaining: string;
  reset: string;
}

const names = (suffix: string): HeaderNames => ({ limit: `x-ratelimit-limit${suffix}`, remaining: `x-ratelimit-remaining${suffix}`, reset: `x-ratelimit-reset${suffix}` });
const UNSUFFIXED = names('');
/** Each metric's header names, made once (a token request sends one set per limit it counts against). */
const SUFFIXED: Record<QuotaMetric, HeaderNames> = { requests: names('-requests'), tokens: names('-tokens'), cost: names('-cost'), ip: names('-ip') };

/** Adds the limit, remaining and reset headers of one counter to `headers`, under `name`. */
function addHeaderSet(headers: Record<string, string>, state: QuotaState, now: number, name: HeaderNames): void {
  const { metric, limit } = state.charge;
  headers[name.limit] = display(metric, limit);
  headers[name.remaining] = display(metric, state.remaining);
  const reset = secondsUntil(state.resetAt, now);
  if (reset !== undefined) headers[name.reset] = String(reset);
}

function headerSet(state: QuotaState, now: number, name: HeaderNames): Record<string, string> {
  const headers: Record<string, string> = {};
  addHeaderSet(headers, state, now, name);
  return headers;
}

/**
 * Headers for a successful reservation: remaining quota of every limit that applied, then the tightest one's
 * unsuffixed. Built into one object (this runs for every token request).
 */
export function quotaHeaders(states: QuotaState[], now: number): Record<string, string> {
  if (states.length === 0) return {};
  const headers: Record<string, string> = {};
  let tightest = states[0]!;
  for (const state of states) {
    addHeaderSet(headers, state, now, SUFFIXED[state.charge.metric]);
    if (state.remaining / state.charge.limit < tightest.remaining / tightest.charge.limit) tightest = state;
  }
  addHeaderSet(headers, tightest, now, UNSUFFIXED);
  headers['x-ratelimit-scope'] = tightest.charge.metric;
  return headers;
}

const METRIC_NAMES: Record<QuotaMetric, string> = {
  requests: 'Request',
  tokens: 'Token',
  cost: 'Cost',
  ip: 'Per-IP request',
};

const LIMIT_CODES: Record<QuotaMetric, CodeWithStatus<429>> = {
  requests: 'requests_limit_exceeded',
  tokens: 'tokens_limit_exceeded',
  cost: 'cost_limit_exceeded',
  ip: 'ip_limit_exceeded',
};

/** The 429 for a limit that was hit, naming it; Retry-After is when its window resets (none for lifetime limits). */
export function quotaExceeded(state: QuotaState, now: number): GatewayError {
  const { metric, limit, period } = state.charge;
  const retryAfter = secondsUntil(state.resetAt, now);
  const money = (value: number) => (metric === 'cost' ? `$${display(metric, value)}` : String(value));
  const when = retryAfter === undefined ? 'This lifetime limit does not reset.' : `It resets in ${retryAfter} s.`;
  const name = METRIC_NAMES[metric];
  // Tokens and cost are reserved by estimate: a request can be refused while some quota remains, if its estimate
  // (input + max_tokens) does not fit. Say so, since lowering max_tokens is then the fix.
  const what = state.used < limit
    ? `${name} limit: this request needs an estimated ${money(state.charge.amount)} but ${money(state.remaining)} of ${money(limit)} per ${period} remain.`
    : `${name} limit reached (${money(limit)} per ${period}).`;
  return new GatewayError(LIMIT_CODES[metric], `${what} ${when}`, {
    retryAfter,
    headers: { ...headerSet(state, now, UNSUFFIXED), 'x-ratelimit-scope': metric },
    details: { limit: metric, period },
  });
}
