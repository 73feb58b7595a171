import { complianceError, findingsHeader, type Sanitizer } from '../sanitize/index.js';
import type { PipelineDeps } from './pipeline.js';

/** The pipeline's sanitize step with `sanitizer` (`[sanitization]`), or undefined when nothing is scanned. */
export function sanitizeStep(sanitizer: Sanitizer): PipelineDeps['sanitize'] {
  if (!sanitizer.active) return undefined;
  return (req) => {
    const result = sanitizer.scanRequest(req.body);
    return { body: result.body, findings: result.findings, refusal: result.blocked ? complianceError(result.findings) : undefined, header: findingsHeader(result.findings) };
  };
}
