import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActualUsage, FederatedPrincipal, IssuerQuota, Reservation, ReserveInput } from '../auth/index.js';
import { formatMicrosAsUsd } from '../core/index.js';
import { GatewayError, isErrorCode } from '../errors/index.js';
import type { CreditAdmission } from '../ledger/index.js';
import { QuotaExceededError, type QuotaCharge, type QuotaCounters } from '../policy/index.js';
import type { GatewayDirectory } from './gateway-directory.js';
import { issuerUnavailable } from './federated-token-resolver.js';
import { verifyReservation, type ReservationPayload } from './reservation.js';
import { reserveGrantSchema, reserveRefusalSchema, type ReleaseRequest, type ReserveRequest, type SettleRequest } from './reserve-messages.js';
import type { TrustedGateways } from './trusted-gateways.js';

/** What the serving side needs of the mesh and the ledger (set once the mesh node exists). */
export interface FederationLink {
  selfId: string;
  send(peerId: string, message: unknown, timeoutMs: number): Promise<unknown>;
  isConnected(peerId: string): boolean;
  /** This node's receipt to the issuing node for work its own providers did (protocol/receipts.md). */
  issueReceipt?(subject: string, requestId: string, served: { model: string; input: number; output: number; cached: number }): Promise<string | undefined>;
  /** The credit limit toward the issuing node, work in flight counted (`mesh.credit_limit_usd`). */
  admitCredit?(peer: string, estimateMicros: number): Promise<CreditAdmission>;
}

export interface IssuerReservationsOptions {
  link: () => FederationLink | undefined;
  directory: GatewayDirectory;
  trusted: TrustedGateways;
  credentials: WeakMap<object, string>;
  timeoutMs: number;
  retryAfterSeconds: number;
  /** `federation.offline_budget`: requests per token per hour admitted here alone while the issuer is unreachable. */
  offline?: { requestsPerHour: number; counters: QuotaCounters };
  /** granted | refused | unavailable | offline, once per reservation asked. */
  onEvent?: (outcome: 'granted' | 'refused' | 'unavailable' | 'offline') => void;
  logger: Logger;
}

/**
 * The serving side of `/meshgate/reserve/1.0.0`: a token of gateway X is admitted only once one of X's nodes holds
 * its worst case, and settled there with the real usage (at most that worst case) and, when this node's providers
 * served it, this node's receipt to X's node. Nodes of X that cannot be reached are passed over for the next; when
 * none answers, the request is refused (503 `issuer_unavailable`).
 */
export class IssuerReservations implements IssuerQuota {
  /** The node of each gateway that answered last: asked first next time. */
  readonly #lastGood = new Map<string, string>();

  constructor(private readonly options: IssuerReservationsOptions) {}

  async reserve(principal: FederatedPrincipal, input: ReserveInput): Promise<Reservation> {
    const { options } = this;
    const gatewayId = principal.issuer;
    const link = options.link();
    const token = options.credentials.get(principal);
    if (!link) throw issuerUnavailable(gatewayId, options.retryAfterSeconds);
    if (token === undefined) throw new GatewayError('internal_error', 'The federated token of this request was not kept for its reservation.');
    const nodes = this.#order(gatewayId, options.directory.find(gatewayId, options.trusted.get(gatewayId)?.pinnedKey)?.nodes ?? [], link);
    const request: ReserveRequest = {
      type: 'reserve', token, rid: input.requestId ?? randomUUID(), model: input.model,
      tokens: Math.max(0, Math.ceil(input.estimatedTokens)), cost: Math.max(0, Math.ceil(input.estimatedCostMicros ?? 0)), priced: input.priced ?? true,
      ...(input.ip !== undefined ? { ip: input.ip } : {}),
      ...(input.format !== undefined ? { format: input.format } : {}),
      ...(input.operation !== undefined ? { operation: input.operation } : {}),
      ...(input.stream !== undefined ? { stream: input.stream } : {}),
    };
    let lastError: unknown;
    for (const [attempt, node] of nodes.entries()) {
      // Each node asked gets its own request id: a node that timed out may still hold the first one (until the cancel
      // reaches it), and X's shared state holds one reservation per id.
      const asked = attempt === 0 ? request : { ...request, rid: `${request.rid}~${attempt + 1}` };
      let reply: unknown;
      try {
        reply = await link.send(node, asked, options.timeoutMs);
      } catch (err) {
        lastError = err;
        options.logger.warn({ gateway: gatewayId, node, err: (err as Error).message }, 'federation: issuer node unreachable, trying the next');
        // The reserve may have arrived and its answer been lost: give it back there (best effort, not waited for).
        void link.send(node, { type: 'cancel', rid: asked.rid }, options.timeoutMs).catch(() => undefined);
        continue;
      }
      // Refused before the message was read (rate limit, allow-list): not an answer about the token; the next node may take it.
      const unread = reserveRefusalSchema.safeParse(reply);
      if (unread.success && unread.data.code === undefined) {
        lastError = new Error(unread.data.error);
        options.logger.warn({ gateway: gatewayId, node, err: unread.data.error }, 'federation: issuer node refused the message unread, trying the next');
        continue;
      }
      this.#lastGood.set(gatewayId, node);
      let payload: ReservationPayload;
      try {
        payload = this.#granted(reply, node, link.selfId, asked, principal);
      } catch (err) {
        options.onEvent?.('refused');
        throw err;
      }
      options.onEvent?.('granted');
      return this.#held(link, node, payload, reply as { reservation: string; headers: Record<string, string> }, principal, input);
    }
    if (options.offline) return this.#offline(principal, options.offline, lastError);
    options.onEvent?.('unavailable');
    throw issuerUnavailable(gatewayId, options.retryAfterSeconds, lastError);
  }

  /**
   * The issuer is unreachable and `offline_budget` allows a few requests per token per hour here alone: counted in
   * this node's own counters (never settled at the issuer, no receipt), refused with 503 once spent.
   */
  async #offline(principal: FederatedPrincipal, offline: NonNullable<IssuerReservationsOptions['offline']>, cause: unknown): Promise<Reservation> {
    const charge: QuotaCharge = {
      scope: `federation-offline:${principal.id}`, metric: 'requests', limit: offline.requestsPerHour, period: 'hour', amount: 1,
      ...(principal.expiresAt !== null ? { retainUntil: principal.expiresAt } : {}),
    };
    let held;
    try {
      held = await offline.counters.reserve([charge]);
    } catch (err) {
      if (err instanceof QuotaExceededError) {
        this.options.onEvent?.('unavailable');
        throw issuerUnavailable(principal.issuer, this.options.retryAfterSeconds, cause);
      }
      throw err;
    }
    this.options.onEvent?.('offline');
    this.options.logger.warn({ gateway: principal.issuer, token: principal.id }, 'federation: issuer unreachable; request admitted on the offline budget');
    return { headers: {}, settle: () => held.settle({}), release: () => held.release() };
  }

  /** Connected nodes first, the one that answered last before them; the rest after. */
  #order(gatewayId: string, nodes: string[], link: FederationLink): string[] {
    const last = this.#lastGood.get(gatewayId);
    const rank = (node: string) => (node === last ? 0 : link.isConnected(node) ? 1 : 2);
    return [...nodes].sort((a, b) => rank(a) - rank(b));
  }

  /** The reservation of a grant, bound to this node, this request and this token; else the refusal as a GatewayError. */
  #granted(reply: unknown, node: string, selfId: string, request: ReserveRequest, principal: FederatedPrincipal): ReservationPayload {
    const refused = reserveRefusalSchema.safeParse(reply);
    if (refused.success) {
      const { code, error, retryAfter, headers } = refused.data;
      if (code !== undefined && isErrorCode(code)) throw new GatewayError(code, error, { ...(retryAfter !== undefined ? { retryAfter } : {}), ...(headers ? { headers } : {}) });
      throw new GatewayError('issuer_refused', `The token's issuing gateway refused the reservation: ${error}`);
    }
    const grant = reserveGrantSchema.safeParse(reply);
    if (!grant.success) throw new GatewayError('issuer_refused', 'The token\'s issuing gateway answered the reservation with a message this node does not understand.');
    let payload: ReservationPayload;
    try {
      payload = verifyReservation(grant.data.reservation, node);
    } catch (err) {
      throw new GatewayError('issuer_refused', `The token's issuing gateway answered with a reservation that does not verify: ${(err as Error).message}`);
    }
    if (payload.srv !== selfId || payload.rid !== request.rid || payload.gw !== principal.issuer || payload.tid !== principal.claims.jti) {
      throw new GatewayError('issuer_refused', 'The token\'s issuing gateway answered with a reservation for another request, token or node.');
    }
    return payload;
  }

  async #held(link: FederationLink, node: string, payload: ReservationPayload, grant: { reservation: string; headers: Record<string, string> }, principal: FederatedPrincipal, input: ReserveInput): Promise<Reservation> {
    const { logger } = this.options;
    const base = { tid: payload.tid, rid: payload.rid, reservation: grant.reservation };
    const send = async (message: SettleRequest | ReleaseRequest) => {
      try {
        const reply = (await link.send(node, message, this.options.timeoutMs)) as { ok?: boolean; code?: string; error?: string };
        if (reply?.ok !== true) logger.warn({ node, requestId: payload.rid, code: reply?.code, err: reply?.error }, `federation: issuer refused the ${message.type}`);
      } catch (err) {
        // Unsettled, the reservation expires at the issuer and is charged at its reserved amounts.
        logger.warn({ node, requestId: payload.rid, err: (err as Error).message }, `federation: ${message.type} did not reach the issuer`);
      }
    };
    let credit: { release(): void } | undefined;
    if (link.admitCredit) {
      const admission = await link.admitCredit(node, input.estimatedCostMicros ?? 0);
      if (!admission.admitted) {
        await send({ type: 'release', ...base });
        throw new GatewayError('credit_limit_exceeded', `Gateway ${principal.issuer}'s node ${node} has $${formatMicrosAsUsd(admission.owedMicros)} in unacknowledged receipts, over this node's credit limit; its tokens are served again once they are acknowledged.`);
      }
      credit = admission.reservation;
    }
    let done = false;
    return {
      headers: grant.headers,
      settle: async (usage: ActualUsage) => {
        if (done) return;
        done = true;
        try {
          const figures = settledFigures(usage, payload);
          if (figures.clamped) logger.warn({ node, requestId: payload.rid }, 'federation: real usage exceeded the reservation; settled at the reserved amounts');
          const served = usage.served;
          const receipt = served && !served.peer && figures.input + figures.output > 0
            ? await link.issueReceipt?.(node, payload.rid, { model: served.model, input: figures.input, output: figures.output, cached: figures.cached })
              // Without its receipt the settlement still goes: the quota must not be charged in full for a ledger fault.
              .catch((err: Error) => void logger.error({ node, requestId: payload.rid, err: err.message }, 'federation: could not issue a receipt to the issuer'))
            : undefined;
          await send({
            type: 'settle', ...base, usage: { input: figures.input, output: figures.output, cached: figures.cached, cost: figures.cost },
            ...(served ? { model: served.model, status: served.status } : {}), ...(served?.peer ? { peer: served.peer } : {}), ...(receipt ? { receipt } : {}),
          });
        } finally {
          credit?.release();
        }
      },
      release: async () => {
        if (done) return;
        done = true;
        credit?.release();
        await send({ type: 'release', ...base });
      },
    };
  }
}

/** The usage settled: the real figures, at most the reservation (the issuer refuses more; the excess is this node's). */
function settledFigures(usage: ActualUsage, payload: ReservationPayload) {
  const { amt } = payload;
  let input = usage.served?.input ?? 0;
  let output = usage.served?.output ?? Math.max(0, (usage.tokens ?? 0) - input);
  const clamped = input + output > amt.tokens || (usage.costMicros ?? 0) > amt.cost;
  if (input + output > amt.tokens) {
    input = Math.min(input, amt.tokens);
    output = amt.tokens - input;
  }
  const cached = Math.min(usage.served?.cached ?? 0, input);
  return { input, output, cached, cost: Math.min(Math.max(0, Math.ceil(usage.costMicros ?? 0)), amt.cost), clamped };
}
