import type { QuotaCharge } from '../policy/index.js';

/**
 * Key names in Redis. Every key of one principal carries its hash tag `{<principal scope>}` — a token's counters,
 * its per-IP counters and its revocation — so one script may touch them all, on one Redis or on a Cluster.
 */
export class RedisKeys {
  constructor(private readonly prefix: string) {}

  /**
   * The hash tag of a request's charges: the principal's scope (`token:<jti>`, `key:<id>`, `public`, `peer:<id>`),
   * which per-IP scopes (`<scope>:ip:<bucket>`) extend. Charges of different principals cannot share a script.
   */
  tagOf(charges: Array<Pick<QuotaCharge, 'scope'>>): string {
    const tag = principalScope(charges[0]!.scope);
    for (const charge of charges) {
      if (principalScope(charge.scope) !== tag) throw new Error(`charges of ${tag} and ${principalScope(charge.scope)} cannot be reserved together`);
    }
    return sanitize(tag);
  }

  /** The counter hash and its reservation-expiry set. */
  counter(tag: string, charge: Pick<QuotaCharge, 'scope' | 'metric' | 'period'>): [string, string] {
    const name = `${sanitize(charge.scope)}|${charge.metric}|${charge.period}`;
    return [`${this.prefix}{${tag}}:q:${name}`, `${this.prefix}{${tag}}:x:${name}`];
  }

  /** A token's revocation, under the token scope's tag (so the reserve script can check it). */
  revocation(tokenId: string, tag = `token:${sanitize(tokenId)}`): string {
    return `${this.prefix}{${tag}}:revoked:${sanitize(tokenId)}`;
  }

  /** A provider's circuit-breaker state (one hash; its own tag, as one script touches only it). */
  circuit(provider: string): string {
    return `${this.prefix}{circuit:${sanitize(provider)}}`;
  }

  /** The channel on which a changed circuit is announced (its provider id). */
  circuitChannel(): string {
    return `${this.prefix}circuit-changed`;
  }

  /** A stored response, under its owner's tag (so one transaction writes it with its item index). */
  storedResponse(owner: string, id: string): string {
    return `${this.prefix}{response:${sanitize(owner)}}:r:${sanitize(id)}`;
  }

  /** An owner's item id → the id of the stored response holding it. */
  storedItem(owner: string, itemId: string): string {
    return `${this.prefix}{response:${sanitize(owner)}}:i:${sanitize(itemId)}`;
  }

  /**
   * The response cache's keys, all under one tag (one Cluster slot: its caps are kept exactly by one script): the
   * prefix of entries, the recency and expiry sets, the size hash and the byte total.
   */
  cache(): { entry: string; recency: string; expiry: string; sizes: string; bytes: string; uses: string } {
    const base = `${this.prefix}{cache}`;
    return { entry: `${base}:e:`, recency: `${base}:lru`, expiry: `${base}:exp`, sizes: `${base}:size`, bytes: `${base}:bytes`, uses: `${base}:uses` };
  }

  done(tag: string, reservationId: string): string {
    return `${this.prefix}{${tag}}:done:${sanitize(reservationId)}`;
  }
}

function principalScope(scope: string): string {
  const ip = scope.indexOf(':ip:');
  return ip === -1 ? scope : scope.slice(0, ip);
}

/** Braces would move a key's hash slot; scopes come from ids and addresses, which never hold them, but be sure. */
function sanitize(part: string): string {
  return part.replace(/[{}]/g, '_');
}
