import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { isFederated, type Principal, type QuotaAdmission, type Reservation } from '../auth/index.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import { costMicros, type Measured } from '../ledger/index.js';
import { ReservationError, signReservation, verifyReservation, type ReservationPayload } from './reservation.js';
import { reserveMessageSchema, type ReleaseRequest, type ReserveRefusal, type ReserveRequest, type SettleRequest } from './reserve-messages.js';

/** Reservations one serving peer may hold open here at once (each also counts against its token's limits). */
const MAX_OPEN_PER_PEER = 4_096;

/** A federated request as the issuer records it once settled (or expired). */
export interface SettledReservation {
  requestId: string;
  /** The node that served the token (the reservation's `srv`), and the peer it forwarded to, if any. */
  servedBy: string;
  forwardedTo?: string;
  principal: Principal;
  ip?: string;
  model?: string;
  format?: string;
  operation?: string;
  stream?: boolean;
  status: number;
  usage: { input: number; output: number; cached: number };
  costMicros: number;
  reservedAt: number;
  /** `settled` with the serving node's figures, `expired` unsettled (charged at the reserved amounts), `released`. */
  end: 'settled' | 'expired' | 'released';
}

export interface ReservationServerOptions {
  selfId: string;
  gatewayId: string;
  /** This node's peer key (reservations are signed with it). */
  signingKey: KeyObject;
  /** This gateway's own credential resolvers (the token is verified here again: revocation, expiry, signature). */
  resolve: (credential: string) => Promise<Principal | undefined>;
  quotas: Pick<QuotaAdmission, 'reserve'>;
  ttlMs: number;
  /** Checks the serving node's receipt and acknowledges or disputes it (ledger/settle-receipt.ts). */
  receipts?: (peerId: string, requestId: string, receipt: string, measured: Measured) => Promise<void>;
  /** The price the serving peer advertises for a model, in receipt units. */
  priceOf?: (peerId: string, model: string) => Measured['price'];
  onSettled?: (settled: SettledReservation) => void;
  /** granted | refused (a reserve) | settle_refused (a settlement or release) | settled | released | expired. */
  onEvent?: (outcome: string) => void;
  logger: Logger;
  now?: () => number;
}

interface Held {
  jws: string;
  payload: ReservationPayload;
  quota: Reservation;
  principal: Principal;
  request: ReserveRequest;
  timer: NodeJS.Timeout;
}

/** Thrown for a settlement or release the issuer refuses; its message is the answer's `error`. */
class Refused extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/**
 * The issuing side of `/meshgate/reserve/1.0.0` (protocol/reservations.md): verifies the token as its own, reserves
 * its worst case with this gateway's quota admission — the state backend its nodes share, so the counting is exact
 * across them — and answers with a signed reservation; settles it with the real usage (at most the reservation),
 * releases it, or charges it in full when it expires unsettled.
 */
export class ReservationServer {
  readonly #held = new Map<string, Held>();
  readonly #openPerPeer = new Map<string, number>();
  /** Reserves being made now (between the checks and the held entry). */
  readonly #pending = new Set<string>();
  /** Pending reserves cancelled before they completed: released as soon as they do. */
  readonly #cancelled = new Set<string>();
  readonly #now: () => number;
  #closed = false;

  constructor(private readonly options: ReservationServerOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Reservations open now. */
  get open(): number {
    return this.#held.size;
  }

  /** A message of a serving peer; never throws (a refusal is an answer). */
  readonly handle = async (message: unknown, peerId: string): Promise<unknown> => {
    const parsed = reserveMessageSchema.safeParse(message);
    if (!parsed.success) return refusal('invalid_message', 'not a reservation protocol message');
    const type = parsed.data.type;
    // Shutting down: refused without a code, so the serving node asks another node of this gateway.
    if (this.#closed && type === 'reserve') return { ok: false, error: 'this node is shutting down' } satisfies ReserveRefusal;
    try {
      switch (parsed.data.type) {
        case 'reserve': {
          const granted = await this.#reserve(parsed.data, peerId);
          this.options.onEvent?.('granted');
          return granted;
        }
        case 'settle':
          await this.#settle(parsed.data, peerId);
          return { ok: true };
        case 'release':
          await this.#release(parsed.data, peerId);
          return { ok: true };
        case 'cancel':
          await this.#cancel(`${peerId} ${parsed.data.rid}`);
          return { ok: true };
      }
    } catch (err) {
      this.options.onEvent?.(type === 'reserve' ? 'refused' : 'settle_refused');
      if (err instanceof Refused) return refusal(err.code, err.message);
      const error = toGatewayError(err);
      if (error.status >= 500) this.options.logger.warn({ peer: peerId, code: error.code, err: (err as Error).message }, 'federation: reservation failed');
      return { ok: false, code: error.code, error: error.message, ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}), headers: error.headers } satisfies ReserveRefusal;
    }
  };

  /** Stops the expiry timers: reservations still open stay charged in the counters at their reserved amounts. */
  close(): void {
    this.#closed = true;
    for (const held of this.#held.values()) clearTimeout(held.timer);
    this.#held.clear();
  }

  async #reserve(request: ReserveRequest, peerId: string): Promise<unknown> {
    const key = `${peerId} ${request.rid}`;
    if (this.#held.has(key) || this.#pending.has(key)) throw new Refused('reservation_exists', 'a reservation for this request is already open');
    if ((this.#openPerPeer.get(peerId) ?? 0) >= MAX_OPEN_PER_PEER) throw new Refused('too_many_reservations', 'too many reservations open for this peer');
    // Claimed before the first await: two reserves of one request id racing would otherwise both be held under one key.
    this.#pending.add(key);
    try {
      const granted = await this.#hold(request, peerId, key);
      if (this.#cancelled.delete(key)) await this.#cancel(key);
      return granted;
    } finally {
      this.#pending.delete(key);
      this.#cancelled.delete(key);
    }
  }

  /** Releases the reservation a serving peer gave up waiting for (or marks the reserve in progress to be). */
  async #cancel(key: string): Promise<void> {
    const held = this.#held.get(key);
    if (held) {
      this.#end(key, held);
      await held.quota.release();
      this.#report(held, 'released', { usage: { input: 0, output: 0, cached: 0 }, costMicros: 0, status: 499 });
    } else if (this.#pending.has(key)) this.#cancelled.add(key);
  }

  async #hold(request: ReserveRequest, peerId: string, key: string): Promise<unknown> {
    const principal = await this.options.resolve(request.token);
    // Only this gateway's own tokens: a token of a third gateway is reserved at its own issuer, never relayed.
    if (!principal || principal.kind !== 'token' || isFederated(principal)) {
      throw new GatewayError('token_wrong_gateway', 'The access token was not issued by this gateway.');
    }
    const quota = await this.options.quotas.reserve(principal, {
      requestId: `fed:${peerId}:${request.rid}`, ip: request.ip, model: request.model, estimatedTokens: request.tokens, estimatedCostMicros: request.cost, priced: request.priced,
    });
    if (this.#closed) {
      await quota.release();
      return { ok: false, error: 'this node is shutting down' } satisfies ReserveRefusal;
    }
    const now = this.#now();
    const payload: ReservationPayload = {
      v: 1, gw: this.options.gatewayId, iss: this.options.selfId, srv: peerId, tid: principal.id, rid: request.rid,
      amt: { requests: 1, tokens: request.tokens, cost: request.cost }, iat: now, exp: now + this.options.ttlMs,
    };
    let jws: string;
    try {
      jws = signReservation(payload, this.options.signingKey);
    } catch (err) {
      await quota.release();
      throw err;
    }
    const timer = setTimeout(() => void this.#expire(key), this.options.ttlMs);
    timer.unref();
    this.#held.set(key, { jws, payload, quota, principal, request, timer });
    this.#openPerPeer.set(peerId, (this.#openPerPeer.get(peerId) ?? 0) + 1);
    return { ok: true, reservation: jws, headers: quota.headers };
  }

  /** The open reservation a settlement or release names, checked in the order protocol/reservations.md lists. */
  #claim(message: SettleRequest | ReleaseRequest, peerId: string): Held {
    let payload: ReservationPayload;
    try {
      payload = verifyReservation(message.reservation, this.options.selfId);
    } catch (err) {
      throw new Refused(err instanceof ReservationError && err.reason === 'forged' ? 'reservation_forged' : 'reservation_malformed', (err as Error).message);
    }
    if (payload.srv !== peerId) throw new Refused('reservation_not_yours', 'the reservation was made for another serving node');
    if (payload.tid !== message.tid || payload.rid !== message.rid) throw new Refused('reservation_mismatch', 'the reservation is for another token or request');
    const key = `${peerId} ${payload.rid}`;
    const held = this.#held.get(key);
    if (!held || held.jws !== message.reservation) throw new Refused('reservation_unknown', 'no such reservation is open (already settled or released, expired, or never made)');
    return held;
  }

  async #settle(message: SettleRequest, peerId: string): Promise<void> {
    const held = this.#claim(message, peerId);
    const { amt } = held.payload;
    const { usage } = message;
    const model = message.model ?? held.request.model ?? '';
    const price = this.options.priceOf?.(peerId, model);
    // The token's cost is at least what the serving peer's receipt will charge for this usage at the price it
    // advertises: a settlement naming a lower cost would leave the token's cost limit untouched while this gateway
    // pays the receipt.
    const cost = Math.max(usage.cost, price ? costMicros({ input: usage.input, output: usage.output, cached: Math.min(usage.cached, usage.input) }, price) : 0);
    if (usage.input + usage.output > amt.tokens || cost > amt.cost) {
      throw new Refused('settle_exceeds_reservation', `settlement of ${usage.input + usage.output} tokens and ${cost} micro-USD exceeds the reservation (${amt.tokens} tokens, ${amt.cost} micro-USD)`);
    }
    this.#end(`${peerId} ${held.payload.rid}`, held);
    await held.quota.settle({ tokens: usage.input + usage.output, costMicros: cost });
    this.#report(held, 'settled', { usage: { input: usage.input, output: usage.output, cached: usage.cached }, costMicros: usage.cost, status: message.status ?? 200, model: message.model, peer: message.peer });
    if (message.receipt && this.options.receipts) {
      // The issuing node measured nothing: its bound is the settlement the serving node just made (within the
      // reservation), so the receipt claims no more than the token was charged — not the reserved worst case in each
      // direction, which let a receipt claim twice the reserved tokens while the settlement charged a fraction.
      await this.options.receipts(peerId, held.payload.rid, message.receipt, {
        model, usage: { input: usage.input, output: usage.output, cached: usage.cached }, bound: { input: usage.input, output: usage.output }, ...(price ? { price } : {}),
      });
    }
  }

  async #release(message: ReleaseRequest, peerId: string): Promise<void> {
    const held = this.#claim(message, peerId);
    this.#end(`${peerId} ${held.payload.rid}`, held);
    await held.quota.release();
    this.#report(held, 'released', { usage: { input: 0, output: 0, cached: 0 }, costMicros: 0, status: 499 });
  }

  /** Unsettled when it expires: charged at the reserved amounts, since the serving node may well have served it. */
  async #expire(key: string): Promise<void> {
    const held = this.#held.get(key);
    if (!held) return;
    this.#end(key, held);
    const { amt } = held.payload;
    try {
      await held.quota.settle({ tokens: amt.tokens, costMicros: amt.cost });
    } catch (err) {
      this.options.logger.warn({ requestId: held.payload.rid, err: (err as Error).message }, 'federation: could not charge an expired reservation');
    }
    this.options.logger.warn({ peer: held.payload.srv, requestId: held.payload.rid }, 'federation: reservation expired unsettled; charged at its reserved amounts');
    this.#report(held, 'expired', { usage: { input: 0, output: amt.tokens, cached: 0 }, costMicros: amt.cost, status: 200 });
  }

  #end(key: string, held: Held): void {
    clearTimeout(held.timer);
    this.#held.delete(key);
    const peer = held.payload.srv;
    const left = (this.#openPerPeer.get(peer) ?? 1) - 1;
    if (left > 0) this.#openPerPeer.set(peer, left);
    else this.#openPerPeer.delete(peer);
  }

  #report(held: Held, end: SettledReservation['end'], figures: Pick<SettledReservation, 'usage' | 'costMicros' | 'status' | 'model'> & { peer?: string }): void {
    const { request, payload } = held;
    this.options.onEvent?.(end);
    try {
      this.options.onSettled?.({
        requestId: payload.rid, servedBy: payload.srv, ...(figures.peer ? { forwardedTo: figures.peer } : {}), principal: held.principal, ip: request.ip,
        model: figures.model ?? request.model, format: request.format, operation: request.operation, stream: request.stream,
        status: figures.status, usage: figures.usage, costMicros: figures.costMicros, reservedAt: payload.iat, end,
      });
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, 'federation: could not record a settled reservation');
    }
  }
}

function refusal(code: string, error: string): ReserveRefusal {
  return { ok: false, code, error };
}
