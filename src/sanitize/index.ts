export { complianceError, createSanitizer, findingsHeader, sanitizationConfigSchema } from './sanitizer.js';
export type { Finding, SanitizationConfig, SanitizeResult, Sanitizer } from './sanitizer.js';
export { CREDENTIAL_DETECTORS, PII_DETECTORS, IP_DETECTOR, luhnValid, ibanValid, shannonEntropy } from './detectors.js';
export { findSecrets, redact } from './scan-text.js';
