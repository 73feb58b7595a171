import { OPERATIONS, WIRE_FORMATS, isJsonObject as isObject, isText, isUint, onlyKeys } from '../core/index.js';
import type { ForwardHead, ForwardRequestFrame, ForwardTrailer } from './forward-frames.js';

/**
 * Typed decoders for the JSON payloads decoded on every forwarded request: REQUEST on the serving node, HEAD and
 * TRAILER on the requesting one. Each accepts exactly what its zod schema in forward-frames.ts accepts and returns what
 * the schema's parse returns (the schemas stay the protocol's definition: protocol/schemas is generated from them, and
 * a test runs both over the same valid and invalid payloads). A general schema walk costs several times these few
 * comparisons, on each of the two nodes, per request. Each returns undefined for a payload its schema refuses.
 */

const FORMATS: ReadonlySet<unknown> = new Set(WIRE_FORMATS);
const OPERATION_NAMES: ReadonlySet<unknown> = new Set(OPERATIONS);
const REQUEST_KEYS: ReadonlySet<string> = new Set(['id', 'format', 'operation', 'model', 'stream', 'body', 'hop', 'visited', 'deadline', 'principal']);
const HEAD_KEYS: ReadonlySet<string> = new Set(['status', 'headers']);
const MAX_VISITED = 64;
const MAX_RECEIPT_CHARS = 16_384;

/** `forwardRequestSchema` (strict). */
export function decodeRequestPayload(value: unknown): ForwardRequestFrame | undefined {
  if (!isObject(value) || !onlyKeys(value, REQUEST_KEYS)) return undefined;
  const { id, format, operation, model, stream, body, hop, visited, deadline, principal } = value;
  if (!isText(id, 1, 128) || !FORMATS.has(format) || !OPERATION_NAMES.has(operation) || !isText(model, 1, 256) || typeof stream !== 'boolean') return undefined;
  if (!('body' in value) || !isUint(hop) || !Array.isArray(visited) || visited.length > MAX_VISITED || !isUint(deadline)) return undefined;
  for (const peer of visited) if (!isText(peer, 1, Infinity)) return undefined;
  if (principal !== undefined && !isText(principal, 0, 256)) return undefined;
  const frame: ForwardRequestFrame = {
    id, format: format as ForwardRequestFrame['format'], operation: operation as ForwardRequestFrame['operation'], model, stream, body, hop, visited: [...visited], deadline,
  };
  if (principal !== undefined) frame.principal = principal;
  return frame;
}

/** `forwardHeadSchema` (strict). */
export function decodeHeadPayload(value: unknown): ForwardHead | undefined {
  if (!isObject(value) || !onlyKeys(value, HEAD_KEYS)) return undefined;
  const { status, headers } = value;
  if (!Number.isSafeInteger(status) || (status as number) < 100 || (status as number) > 599 || !isObject(headers)) return undefined;
  const copy: Record<string, string> = {};
  for (const name in headers) {
    const header = headers[name];
    if (typeof header !== 'string') return undefined;
    copy[name] = header;
  }
  return { status: status as number, headers: copy };
}

/** `forwardTrailerSchema` (partial on purpose: members it does not know are dropped, not refused). */
export function decodeTrailerPayload(value: unknown): ForwardTrailer | undefined {
  if (!isObject(value)) return undefined;
  const { usage, provider, model, error, receipt } = value;
  const trailer: ForwardTrailer = {};
  if (usage !== undefined) {
    if (!isObject(usage) || !isUint(usage.inputTokens) || !isUint(usage.outputTokens)) return undefined;
    const cached = usage.cachedInputTokens;
    if (cached !== undefined && !isUint(cached)) return undefined;
    trailer.usage = { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, ...(cached !== undefined ? { cachedInputTokens: cached } : {}) };
  }
  if (provider !== undefined) {
    if (typeof provider !== 'string') return undefined;
    trailer.provider = provider;
  }
  if (model !== undefined) {
    if (typeof model !== 'string') return undefined;
    trailer.model = model;
  }
  if (error !== undefined) {
    if (!isObject(error) || !Number.isSafeInteger(error.status) || typeof error.message !== 'string') return undefined;
    trailer.error = { status: error.status as number, message: error.message };
  }
  if (receipt !== undefined) {
    if (!isText(receipt, 0, MAX_RECEIPT_CHARS)) return undefined;
    trailer.receipt = receipt;
  }
  return trailer;
}
