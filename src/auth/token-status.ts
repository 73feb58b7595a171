import { microsToUsd, usdToMicros } from '../core/index.js';
import type { QuotaCounters, QuotaState } from '../policy/index.js';
import type { AccessTokenPayload } from './access-token.js';
import type { TokenRecord } from './token-registry.js';

/** One limit of a token in its current window, as the admin API lists it. */
export interface TokenUsage {
  limit: number;
  used: number;
  remaining: number;
  period: string;
  /** Epoch ms of the next window, null for lifetime limits. */
  resetAt: number | null;
}

/** What `GET /v1/admin/tokens` shows of a token: claims, validity and usage — never the token text. */
export interface TokenStatus {
  id: string;
  sub?: string;
  claims: Omit<AccessTokenPayload, 'iss' | 'jti' | 'iat' | 'exp' | 'nbf' | 'sub'> | null;
  issuedAt: number | null;
  notBefore: number | null;
  expiresAt: number | null;
  expired: boolean;
  revokedAt: number | null;
  source: TokenRecord['source'];
  /** Current window of each limit; cost in USD. Per-IP quotas are per visitor and not listed here. */
  usage: { requests?: TokenUsage; tokens?: TokenUsage; cost?: TokenUsage };
}

function toUsage(state: QuotaState, shown: (amount: number) => number = (amount) => amount): TokenUsage {
  return {
    limit: shown(state.charge.limit),
    used: shown(state.used),
    remaining: shown(state.remaining),
    period: state.charge.period,
    resetAt: Number.isFinite(state.resetAt) ? state.resetAt : null,
  };
}

async function usageOf(id: string, payload: AccessTokenPayload, quotas: Pick<QuotaCounters, 'peek'>): Promise<TokenStatus['usage']> {
  const scope = `token:${id}`;
  const usage: TokenStatus['usage'] = {};
  if (payload.requests) usage.requests = toUsage(await quotas.peek({ scope, metric: 'requests', ...payload.requests }));
  if (payload.tokens) usage.tokens = toUsage(await quotas.peek({ scope, metric: 'tokens', ...payload.tokens }));
  if (payload.cost) usage.cost = toUsage(await quotas.peek({ scope, metric: 'cost', limit: usdToMicros(payload.cost.limit), period: payload.cost.period }), microsToUsd);
  return usage;
}

export async function tokenStatus(record: TokenRecord, quotas: Pick<QuotaCounters, 'peek'>, now: number): Promise<TokenStatus> {
  const payload = record.payload;
  const { iss: _iss, jti: _jti, iat: _iat, exp: _exp, nbf, sub, ...claims } = payload ?? ({} as Partial<AccessTokenPayload>);
  return {
    id: record.id,
    ...(sub !== undefined ? { sub } : {}),
    claims: payload ? claims : null,
    issuedAt: record.issuedAt,
    notBefore: nbf !== undefined ? nbf * 1000 : null,
    expiresAt: record.expiresAt,
    expired: record.expiresAt !== null && record.expiresAt <= now,
    revokedAt: record.revokedAt ?? null,
    source: record.source,
    usage: payload ? await usageOf(record.id, payload, quotas) : {},
  };
}
