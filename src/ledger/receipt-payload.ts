import { isJsonObject as isObject, isText, isUint, onlyKeys } from '../core/index.js';
import type { ReceiptPayload } from './receipt.js';

/**
 * A typed check of a receipt payload, for the two that pass on every forwarded request: the serving node's own before
 * it signs, the requesting node's received one before it acknowledges. It accepts exactly what `receiptPayloadSchema`
 * (receipt.ts, the definition protocol/schemas is generated from) accepts and returns what its parse returns — a test
 * runs both over the same valid and invalid payloads — at a fraction of a general schema walk's cost. Undefined for a
 * payload the schema refuses.
 */

const PAYLOAD_KEYS: ReadonlySet<string> = new Set(['v', 'iss', 'sub', 'ch', 'seq', 'rid', 'model', 'usage', 'price', 'cost', 'total', 'prev', 'iat']);
const AMOUNT_KEYS: ReadonlySet<string> = new Set(['input', 'output', 'cached']);

/** `{ input, output, cached }`, each a safe unsigned integer, nothing else. */
function amounts(value: unknown): ReceiptPayload['usage'] | undefined {
  if (!isObject(value) || !onlyKeys(value, AMOUNT_KEYS)) return undefined;
  const { input, output, cached } = value;
  return isUint(input) && isUint(output) && isUint(cached) ? { input, output, cached } : undefined;
}

export function decodeReceiptPayload(value: unknown): ReceiptPayload | undefined {
  if (!isObject(value) || !onlyKeys(value, PAYLOAD_KEYS)) return undefined;
  const { v, iss, sub, ch, seq, rid, model, cost, total, prev, iat } = value;
  if (v !== 1 || !isText(iss, 1, Infinity) || !isText(sub, 1, Infinity) || !isText(ch, 1, Infinity) || !Number.isSafeInteger(seq) || (seq as number) < 1 || !isText(rid, 1, 200) || !isText(model, 1, 200)) return undefined;
  const usage = amounts(value.usage);
  // `input` includes `cached` (receipt.ts, receiptPayloadSchema).
  if (!usage || usage.cached > usage.input) return undefined;
  const price = amounts(value.price);
  if (!price || !isUint(cost) || !isUint(total) || (prev !== null && typeof prev !== 'string') || !isUint(iat)) return undefined;
  return { v, iss, sub, ch, seq: seq as number, rid, model, usage, price, cost, total, prev, iat };
}
