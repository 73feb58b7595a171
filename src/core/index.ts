/**
 * The bottom of the module graph: the few leaves every layer shares (secrets, the config error, wire formats,
 * operations, principal references, money units, and the canonical encodings that signatures cover: one spelling of
 * each value, so a signed object has one text and one hash). It imports nothing of ours, so any module may import it without
 * a cycle (test/unit/architecture/import-graph.test.ts checks both).
 */
export { decodeCanonicalBase64url, isCanonicalBase64url } from './base64url.js';
export { canonicalJson } from './canonical-json.js';
export { ConfigError } from './config-error.js';
export { cutText } from './cut-text.js';
export { isJsonObject, isText, isUint, onlyKeys, type JsonObject } from './json-checks.js';
export { linkedSignal, type LinkedSignal } from './linked-signal.js';
export { MAX_JSON_DEPTH, nestsTooDeep } from './json-depth.js';
export { jsonTextOf, keepJsonText } from './json-text.js';
export { MICROS_PER_USD, formatMicrosAsUsd, isWholeMicros, microsToUsd, usdToMicros } from './money.js';
export { OPERATIONS, type Operation } from './operation.js';
export { BURST_SECONDS, PerPeerRate } from './peer-rate.js';
export type { PrincipalRef } from './principal-ref.js';
export { Secret } from './secret.js';
export { PROVIDER_FORMATS, WIRE_FORMATS, type ProviderFormat, type WireFormat } from './wire-format.js';
