import { complianceError, createSanitizer, findingsHeader, type SanitizationConfig } from '../sanitize/index.js';
import type { PipelineDeps } from './pipeline.js';

/** The pipeline's sanitize step for `[sanitization]`, or undefined when nothing is scanned. */
export function sanitizeStep(config: SanitizationConfig): PipelineDeps['sanitize'] {
  const sanitizer = createSanitizer(config);
  if (!sanitizer.active) return undefined;
  return (req) => {
    const result = sanitizer.scanRequest(req.body);
    return { body: result.body, findings: result.findings, refusal: result.blocked ? complianceError(result.findings) : undefined, header: findingsHeader(result.findings) };
  };
}
