import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { QuotaExceededError, quotaWindow, type QuotaCharge, type QuotaReservation, type QuotaReserveOptions, type QuotaState } from '../policy/index.js';
import { PEEK_LUA, RESERVE_LUA, SETTLE_LUA } from './redis-scripts.js';
import type { RedisKeys } from './redis-keys.js';

/** A revoked token found by the reservation itself (revoked at another replica between authentication and now). */
export class RevokedDuringReserveError extends Error {
  constructor() {
    super('the token was revoked');
    this.name = 'RevokedDuringReserveError';
  }
}

/** The script commands this module defines on its ioredis client. */
interface QuotaScripts {
  meshgateReserve(numKeys: number, ...args: Array<string | number>): Promise<string[]>;
  meshgateSettle(numKeys: number, ...args: Array<string | number>): Promise<number>;
  meshgatePeek(numKeys: number, ...args: Array<string | number>): Promise<string[]>;
}


/** How long a settled reservation's id is remembered, so a repeated settle is a no-op. */
const DONE_TTL_MS = 24 * 3_600_000;

/**
 * Quota counters in Redis, exact across every replica that shares it: one Lua script checks and reserves all the
 * charges of a request (all or nothing) on Redis's clock; settle and release run once per reservation id. Counters
 * and the reserve's revocation check share the principal's hash tag, so the script's keys sit in one Cluster slot.
 */
export class RedisQuotaCounters {
  private readonly redis: Redis & QuotaScripts;

  constructor(
    redis: Redis,
    private readonly keys: RedisKeys,
    private readonly reservationTtlMs: number,
  ) {
    redis.defineCommand('meshgateReserve', { lua: RESERVE_LUA });
    redis.defineCommand('meshgateSettle', { lua: SETTLE_LUA });
    redis.defineCommand('meshgatePeek', { lua: PEEK_LUA });
    this.redis = redis as Redis & QuotaScripts;
  }

  /** Reserves every charge or none: throws QuotaExceededError naming the first that does not fit. */
  async reserve(charges: QuotaCharge[], options: QuotaReserveOptions = {}): Promise<QuotaReservation> {
    const id = options.id ?? randomUUID();
    const tag = this.keys.tagOf(charges);
    const counterKeys = charges.flatMap((charge) => this.keys.counter(tag, charge));
    const revocation = this.keys.revocation(options.tokenId ?? '', tag);
    const args = charges.flatMap((charge) => [charge.period, charge.limit, whole(charge.amount), charge.retainUntil ?? 0]);
    const reply = await this.redis.meshgateReserve(counterKeys.length + 1, ...counterKeys, revocation, id, this.reservationTtlMs, charges.length, ...args);
    const now = Number(reply[1]);
    if (reply[0] === 'revoked') throw new RevokedDuringReserveError();
    if (reply[0] === 'duplicate') throw new Error(`reservation id ${id} is already in use`);
    if (reply[0] === 'refused') {
      const charge = charges[Number(reply[2]) - 1]!;
      throw new QuotaExceededError(stateOf(charge, Number(reply[3]), now));
    }
    const starts = charges.map((_, i) => reply[2 + i * 2]!);
    const states = charges.map((charge, i) => stateOf(charge, Number(reply[3 + i * 2]), now));
    let done = false;
    const finish = async (amountFor: (charge: QuotaCharge) => number) => {
      if (done) return;
      done = true;
      const settleArgs = charges.flatMap((charge, i) => [starts[i]!, whole(amountFor(charge))]);
      await this.redis.meshgateSettle(counterKeys.length + 1, ...counterKeys, this.keys.done(tag, id), id, DONE_TTL_MS, charges.length, ...settleArgs);
    };
    return {
      states,
      settle: (actual) => finish((charge) => actual[charge.metric] ?? charge.amount),
      release: () => finish(() => 0),
    };
  }

  /** A counter's use in its current window (live reservations included), without reserving. */
  async peek(charge: Omit<QuotaCharge, 'amount'>): Promise<QuotaState> {
    const full = { ...charge, amount: 0 };
    const tag = this.keys.tagOf([full]);
    const [now, used] = await this.redis.meshgatePeek(2, ...this.keys.counter(tag, full), charge.period);
    return stateOf(full, Number(used), Number(now));
  }
}

/** Counters are integers (requests, tokens, micro-dollars); an estimate with a fraction is rounded up. */
function whole(amount: number): number {
  return Math.max(0, Math.ceil(amount));
}

function stateOf(charge: QuotaCharge, used: number, now: number): QuotaState {
  return { charge, used, remaining: Math.max(0, charge.limit - used), resetAt: quotaWindow(charge.period, now).end };
}
