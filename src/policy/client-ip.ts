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
