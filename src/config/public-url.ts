/**
 * A provider URL as it may be shown (start-up output, GET /v1/providers): no userinfo, and no query string — some
 * providers and proxies take a key there (`?key=`, `?api-key=`). Undefined for a URL that does not parse.
 */
export function publicUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return undefined;
  }
}
