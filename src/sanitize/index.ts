export { complianceError, createSanitizer, findingsHeader, sanitizationConfigSchema } from './sanitizer.js';
export type { Finding, SanitizationConfig, SanitizeResult, Sanitizer } from './sanitizer.js';
export { CREDENTIAL_DETECTORS, PII_DETECTORS, IP_DETECTOR, luhnValid, ibanValid, shannonEntropy } from './detectors.js';
export { createTextScanner, redact, runDetectors } from './scan-text.js';
export type { TextFinding, TextScanner } from './scan-text.js';
