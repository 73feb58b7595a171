/** The canonical encodings that signatures cover: one spelling per value, so a signed object has one hash. */
export { canonicalJson } from './canonical-json.js';
export { decodeCanonicalBase64url, isCanonicalBase64url } from './base64url.js';
