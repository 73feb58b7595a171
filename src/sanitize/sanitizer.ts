import { z } from 'zod';
import { GatewayError } from '../errors/index.js';
import { CREDENTIAL_DETECTORS, IP_DETECTOR, PII_DETECTORS, type Category, type Detector } from './detectors.js';
import { createTextScanner, redact } from './scan-text.js';
import { walkRequestText } from './walk-request.js';

export const sanitizationConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    scan_credentials: z.boolean().default(true),
    redact_pii: z.boolean().default(false),
    /** Also treat IPv4 addresses as PII (off by default: prompts about networks are full of them). */
    redact_ip: z.boolean().default(false),
    /** true: refuse a request carrying a credential (403) instead of redacting it. */
    compliance_gate: z.boolean().default(false),
  })
  .strict();

export type SanitizationConfig = z.infer<typeof sanitizationConfigSchema>;

/** A finding names a type and where it was, never the matched value. */
export interface Finding {
  type: string;
  category: Category;
  location: string;
  action: 'redacted' | 'blocked';
}

export interface SanitizeResult {
  body: Record<string, unknown>;
  findings: Finding[];
  blocked: boolean;
}

export interface Sanitizer {
  readonly active: boolean;
  /** Every text of a request body, whatever its wire format (the walk is the same for all three). */
  scanRequest(body: Record<string, unknown>): SanitizeResult;
  /** One string: the redacted text and the types found. */
  scanText(text: string): { text: string; types: string[] };
}

export function createSanitizer(config: SanitizationConfig): Sanitizer {
  const detectors: Detector[] = [
    ...(config.scan_credentials ? CREDENTIAL_DETECTORS : []),
    ...(config.redact_pii ? PII_DETECTORS : []),
    ...(config.redact_pii && config.redact_ip ? [IP_DETECTOR] : []),
  ];
  const active = config.enabled && detectors.length > 0;
  const findSecrets = createTextScanner(detectors, config.scan_credentials);
  return {
    active,
    scanRequest(body) {
      if (!active) return { body, findings: [], blocked: false };
      const findings: Finding[] = [];
      const scanned = walkRequestText(body, (text, location) => {
        const found = findSecrets(text);
        if (found.length === 0) return text;
        const at = location();
        for (const f of found) {
          findings.push({ type: f.type, category: f.category, location: at, action: config.compliance_gate && f.category === 'credential' ? 'blocked' : 'redacted' });
        }
        return redact(text, found);
      });
      const blocked = findings.some((f) => f.action === 'blocked');
      return { body: scanned, findings, blocked };
    },
    scanText(text) {
      const found = active ? findSecrets(text) : [];
      return { text: redact(text, found), types: found.map((f) => f.type) };
    },
  };
}

function countByType(findings: Finding[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.type, (counts.get(f.type) ?? 0) + 1);
  return counts;
}

/** 403 for the compliance gate, in the client's error format at the edge; lists finding types, never values. */
export function complianceError(findings: Finding[]): GatewayError {
  const types = [...countByType(findings.filter((f) => f.action === 'blocked')).keys()].sort();
  return new GatewayError('compliance_blocked', `Request refused by the compliance gate: it contains credentials (${types.join(', ')}). Remove them and try again.`, {
    details: { findings: findings.map(({ type, location }) => ({ type, location })) },
  });
}

/** `x-meshgate-sanitized` value, e.g. `OPENAI_API_KEY=1, EMAIL=2`. */
export function findingsHeader(findings: Finding[]): string | undefined {
  if (findings.length === 0) return undefined;
  return [...countByType(findings)].map(([type, n]) => `${type}=${n}`).join(', ');
}
