import type { Category, Detector } from './detectors.js';

export interface TextFinding {
  type: string;
  category: Category;
  start: number;
  end: number;
}

/**
 * PEM private key blocks (gitleaks: private-key), found with indexOf instead of a regex so that many BEGIN lines
 * without an END cannot make scanning quadratic. A block with no END is redacted to the end of the text: half a
 * private key is still a secret.
 */
function findPrivateKeys(text: string): TextFinding[] {
  const found: TextFinding[] = [];
  let from = 0;
  for (;;) {
    const begin = text.indexOf('-----BEGIN ', from);
    if (begin < 0) return found;
    const headerEnd = text.indexOf('-----', begin + 11);
    if (headerEnd < 0) return found;
    if (headerEnd - begin > 100 || !text.slice(begin, headerEnd).includes('PRIVATE KEY')) {
      from = headerEnd + 5;
      continue;
    }
    const endMarker = text.indexOf('-----END ', headerEnd + 5);
    if (endMarker < 0) {
      found.push({ type: 'PRIVATE_KEY', category: 'credential', start: begin, end: text.length });
      return found;
    }
    const close = text.indexOf('-----', endMarker + 9);
    const end = close < 0 ? text.length : close + 5;
    found.push({ type: 'PRIVATE_KEY', category: 'credential', start: begin, end });
    from = end;
  }
}

function prefilterHits(detector: Detector, text: string, lower: () => string): boolean {
  if (detector.prefilter.length === 0) return true;
  const haystack = detector.prefilterLower ? lower() : text;
  return detector.prefilter.some((needle) => haystack.includes(needle));
}

/**
 * Finds secrets in one string. Detectors run in order and earlier ones win overlaps (this gateway's own tokens
 * before generic JWTs, specific keys before generic `password=` values). Returns non-overlapping findings sorted by
 * position. Every pattern is linear, and a detector whose prefilter does not hit costs one `includes`.
 */
export function findSecrets(text: string, detectors: Detector[], privateKeys: boolean): TextFinding[] {
  let lowered: string | undefined;
  const lower = () => (lowered ??= text.toLowerCase());
  const findings: TextFinding[] = privateKeys && text.includes('-----BEGIN ') ? findPrivateKeys(text) : [];
  const overlaps = (start: number, end: number) => findings.some((f) => start < f.end && end > f.start);
  for (const detector of detectors) {
    if (!prefilterHits(detector, text, lower)) continue;
    detector.pattern.lastIndex = 0;
    for (const match of text.matchAll(detector.pattern)) {
      const secret = match[1] ?? match[0];
      const start = match.index + (match[1] === undefined ? 0 : match[0].indexOf(match[1]));
      const end = start + secret.length;
      if (detector.validate && !detector.validate(secret)) continue;
      if (overlaps(start, end)) continue;
      findings.push({ type: detector.type, category: detector.category, start, end });
    }
  }
  return findings.sort((a, b) => a.start - b.start);
}

/** Replaces each finding with `[REDACTED:<TYPE>]`. */
export function redact(text: string, findings: TextFinding[]): string {
  let out = '';
  let cursor = 0;
  for (const finding of findings) {
    out += text.slice(cursor, finding.start) + `[REDACTED:${finding.type}]`;
    cursor = finding.end;
  }
  return out + text.slice(cursor);
}
