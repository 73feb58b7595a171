import type { PrincipalRef } from '../core/index.js';
import { GatewayError, unauthorized } from '../errors/index.js';
import { chargesAnything, quotaCharges, quotaExceeded, QuotaExceededError, quotaHeaders, type QuotaCounters } from '../policy/index.js';
import { RevokedDuringReserveError } from '../state/index.js';
import { TokenRejectedError } from './access-token.js';
import type { ModelPermissions } from './model-permissions.js';
import type { Principal } from './principal.js';
import type { PrincipalRules } from './principal-rules.js';

export interface ReserveInput {
  /** The request's id: the reservation's id, so a shared backend settles it once. */
  requestId?: string;
  ip?: string;
  model?: string;
  estimatedTokens: number;
  /** Estimated cost in micro-dollars. */
  estimatedCostMicros?: number;
  /** False when the model has no known price: a principal with a cost limit is then refused (its spend could not be counted). */
  priced?: boolean;
  /** What kind of request it is, for the records of a federated token's issuer. */
  format?: string;
  operation?: string;
  stream?: boolean;
}

export interface ActualUsage {
  tokens?: number;
  costMicros?: number;
  /** What served the request, for a settlement that reports it (a token of another gateway: its issuer). */
  served?: ServedUsage;
}

/** The request's answer as the issuer of a federated token is told it at settlement. */
export interface ServedUsage {
  model: string;
  input: number;
  output: number;
  cached: number;
  status: number;
  /** The peer that served it when this node forwarded it (this node then issues no receipt of its own). */
  peer?: string;
}

/** A token of another gateway, as its resolver establishes it. */
export type FederatedPrincipal = Extract<Principal, { kind: 'token' }> & { issuer: string };

/** Where the quota of a token of another gateway is reserved: at its issuer, over the mesh (federation). */
export interface IssuerQuota {
  reserve(principal: FederatedPrincipal, input: ReserveInput): Promise<Reservation>;
}

export function isFederated(principal: PrincipalRef): principal is FederatedPrincipal {
  return principal.kind === 'token' && typeof (principal as { issuer?: unknown }).issuer === 'string';
}

/** A quota reservation for one request: `settle` after it succeeded, `release` if it failed. */
export interface Reservation {
  /** x-ratelimit-* headers with the quota remaining after this request. */
  headers: Record<string, string>;
  settle(usage: ActualUsage): Promise<void>;
  release(): Promise<void>;
}

export interface QuotaAdmissionOptions {
  rules: PrincipalRules;
  models: ModelPermissions;
  /** The counters: embedded LevelDB by default; any backend implementing QuotaCounters (shared state for replicas). */
  counters: QuotaCounters;
  /** Reserves the quota of tokens of trusted gateways at their issuer; absent: such a token is refused. */
  issuer?: IssuerQuota;
  now?: () => number;
}

const NOTHING_HELD: Reservation = { headers: {}, settle: async () => undefined, release: async () => undefined };

/**
 * Quota admission: reserves a request's share of every limit that applies to its principal before the upstream call
 * (so concurrent requests cannot overspend), settled with the real usage after it.
 */
export class QuotaAdmission {
  private readonly now: () => number;

  constructor(private readonly options: QuotaAdmissionOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Whether a request from `principal` for `model` is admitted without a reservation: no limit applies to it (nothing
   * to count, so nothing to wait for and no estimate or price to compute) and it is not a token of another gateway.
   * False when `reserve` has work to do (it then checks the model); else throws the 403 `reserve` throws for a model
   * the principal may not use.
   */
  admitsWithoutLimits(principal: PrincipalRef, model: string | undefined): boolean {
    // Without a limit `quotaCharges` charges, `reserve` would hold nothing. When it has work, it checks the model itself.
    if (isFederated(principal) || chargesAnything(this.options.rules.of(principal))) return false;
    if (model !== undefined) this.options.models.check(principal, model);
    return true;
  }

  /**
   * Throws 403 for a model the principal may not use (or an unpriced model under a cost limit), 429 naming the limit
   * that was hit, or 503 when the counters cannot be written (limits fail closed).
   */
  async reserve(principal: PrincipalRef, input: ReserveInput): Promise<Reservation> {
    if (input.model !== undefined) this.options.models.check(principal, input.model);
    const { rules: principalRules, counters } = this.options;
    const rules = principalRules.of(principal);
    if (rules.cost && input.priced === false) {
      throw new GatewayError('cost_unknown', `This credential has a cost limit, and the model${input.model ? ` '${input.model}'` : ''} has no known price, so its cost could not be counted. Ask the operator to set its price ([pricing."<model>"]) or use a priced model.`);
    }
    // A token of another gateway counts at its issuer only (never here): the issuer's counters are the only ones.
    if (isFederated(principal)) {
      if (!this.options.issuer) throw unauthorized('This node does not accept tokens of other gateways.', 'token_untrusted_gateway');
      return this.options.issuer.reserve(principal, input);
    }
    const charges = quotaCharges(rules, principalRules.scope(principal), {
      ip: input.ip,
      retainUntil: principalRules.retainUntil(principal),
      estimatedTokens: input.estimatedTokens,
      estimatedCostMicros: input.estimatedCostMicros ?? 0,
    });
    if (charges.length === 0) return NOTHING_HELD;
    let held;
    try {
      held = await counters.reserve(charges, { id: input.requestId, tokenId: principal.kind === 'token' ? principal.id : undefined });
    } catch (err) {
      if (err instanceof RevokedDuringReserveError) throw unauthorized(new TokenRejectedError('revoked').message, 'token_revoked');
      // The shared state backend's own refusal (503 state_unavailable, naming the backend) passes as it is.
      if (err instanceof GatewayError) throw err;
      if (err instanceof QuotaExceededError) throw quotaExceeded(err.state, this.now());
      throw new GatewayError('quota_unavailable', 'Quota storage is unavailable; the request was refused rather than admitted without limits.', {
        cause: err,
      });
    }
    return {
      headers: quotaHeaders(held.states, this.now()),
      settle: (usage) => held.settle({ tokens: usage.tokens, cost: usage.costMicros }),
      release: () => held.release(),
    };
  }

  /** Waits for pending counter writes; call before closing the store. */
  flush(): Promise<void> {
    return this.options.counters.flush();
  }
}
