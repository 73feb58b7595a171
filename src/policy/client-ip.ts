import { isIP } from 'node:net';

export interface ClientAddressSource {
  headers: Record<string, string | string[] | undefined>;
  /** The TCP peer address (the proxy's, when behind one). */
  socketAddress?: string;
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) counts as 1.2.3.4, so one visitor has one address. */
export function normalizeIp(address: string): string {
  const trimmed = address.trim().replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return (mapped ? mapped[1]! : trimmed).toLowerCase();
}

/**
 * The client address that per-IP quotas and geo rules use. Without `trustProxy` it is the socket's peer address:
 * X-Forwarded-For is written by whoever sends the request, so believing it would let anyone pick their own address.
 * With `trustProxy` (true = one proxy, or a number of proxies in front of the gateway) it is the entry that the
 * outermost trusted proxy appended: counting hops from the right, because every proxy appends the address it saw
 * and anything to the left of our proxies' entries was supplied by the client (MDN, "X-Forwarded-For: Security and
 * privacy concerns"). Invalid entries fall back to the socket address.
 */
export function clientIp(source: ClientAddressSource, trustProxy: boolean | number): string | undefined {
  const socket = source.socketAddress ? normalizeIp(source.socketAddress) : undefined;
  const hops = trustProxy === true ? 1 : trustProxy === false ? 0 : trustProxy;
  if (hops <= 0) return socket;
  const header = source.headers['x-forwarded-for'];
  const entries = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((entry) => entry.trim()).filter(Boolean);
  const candidate = entries[entries.length - hops] ?? entries[0];
  if (!candidate) return socket;
  const address = normalizeIp(candidate);
  return isIP(address) ? address : socket;
}

/** The eight 16-bit groups of an IPv6 address (any spelling: compressed, upper case, embedded IPv4); undefined if not IPv6. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - left.length - right.length;
  return [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right].map((g) => parseInt(g, 16));
}

/**
 * The bucket a per-IP quota counts an address in: the address itself for IPv4, its /64 network for IPv6 — one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses would hand out 2^64 fresh quotas.
 */
export function ipQuotaBucket(address: string): string {
  const groups = ipv6Groups(address);
  if (!groups) return address;
  return `${groups.slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

