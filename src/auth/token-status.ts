import { microsToUsd, usdToMicros } from '../core/index.js';
import type { AccessRules, QuotaCounters, QuotaState } from '../policy/index.js';
import type { VirtualKey } from './auth-config.js';
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

/** The current window of each request, token and cost limit of `rules`, counted under the quota scope `scope`. */
async function usageOf(scope: string, rules: Pick<AccessRules, 'requests' | 'tokens' | 'cost'>, quotas: Pick<QuotaCounters, 'peek'>): Promise<TokenStatus['usage']> {
  const usage: TokenStatus['usage'] = {};
  if (rules.requests) usage.requests = toUsage(await quotas.peek({ scope, metric: 'requests', ...rules.requests }));
  if (rules.tokens) usage.tokens = toUsage(await quotas.peek({ scope, metric: 'tokens', ...rules.tokens }));
  if (rules.cost) usage.cost = toUsage(await quotas.peek({ scope, metric: 'cost', limit: usdToMicros(rules.cost.limit), period: rules.cost.period }), microsToUsd);
  return usage;
}

/** What `GET /v1/admin/keys` shows of a virtual key (`[key_map]`): its id, label, limits and usage — never the key. */
export interface VirtualKeyStatus {
  id: string;
  label: string;
  /** The key's rules (limits, origins, countries, models) as configured. */
  limits: AccessRules;
  /** Provider ids the key brings its own provider key for (the keys themselves are never shown). */
  providers: string[];
  usage: TokenStatus['usage'];
}

export async function virtualKeyStatus(vk: VirtualKey, quotas: Pick<QuotaCounters, 'peek'>): Promise<VirtualKeyStatus> {
  return { id: vk.id, label: vk.label, limits: vk.rules, providers: [...vk.providerKeys.keys()], usage: await usageOf(`key:${vk.id}`, vk.rules, quotas) };
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
    usage: payload ? await usageOf(`token:${record.id}`, payload, quotas) : {},
  };
}
