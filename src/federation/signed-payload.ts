import type { z } from 'zod';
import { canonicalJson } from '../core/index.js';
import { parseCompact, type ParsedJws } from '../ledger/index.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A compact JWS whose payload is the RFC 8785 canonical JSON of a `schema` value (gateway records, reservations):
 * parsed, its payload read, and refused (undefined) unless the payload is exactly that one text — whitespace, another
 * key order or a duplicate key would give one signed object several texts. Nothing is verified here.
 */
export function readCanonicalPayload<T>(jws: string, schema: z.ZodType<T>): { parsed: ParsedJws; payload: T } | undefined {
  try {
    const parsed = parseCompact(jws);
    const text = strictUtf8.decode(parsed.payload);
    const payload = schema.parse(JSON.parse(text));
    return text === canonicalJson(payload) ? { parsed, payload } : undefined;
  } catch {
    return undefined;
  }
}
