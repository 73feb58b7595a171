/**
 * Origin binding. Browsers set `Origin` on cross-origin requests and on every POST (Fetch standard, "HTTP-network-
 * or-cache fetch"), and a page's script cannot change it; `Referer` is the fallback for the rare request without
 * one. Matching is on the host only: `myapp.com` matches that host exactly, `*.myapp.com` any subdomain of it.
 */

export function requestOrigin(headers: Record<string, string | string[] | undefined>): string | undefined {
  const origin = headers.origin;
  if (typeof origin === 'string' && origin !== '' && origin !== 'null') return origin;
  const referer = headers.referer;
  if (typeof referer === 'string' && referer !== '') {
    try {
      return new URL(referer).origin;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function originHost(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.hostname.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

export function hostMatches(host: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern));
}

export type OriginVerdict = 'allowed' | 'missing' | 'not_allowed';

/** `domains` absent or empty = any origin (or none). */
export function checkOrigin(origin: string | undefined, domains: readonly string[] | undefined): OriginVerdict {
  if (!domains || domains.length === 0) return 'allowed';
  if (origin === undefined) return 'missing';
  const host = originHost(origin);
  return host !== undefined && hostMatches(host, domains) ? 'allowed' : 'not_allowed';
}
