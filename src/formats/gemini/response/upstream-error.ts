import { UpstreamError, isRetryableStatus } from '../../../errors/index.js';

/**
 * Gemini's error body, `{ error: { code, message, status } }` (google.rpc.Status,
 * https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes), as an UpstreamError. Inside a stream it arrives
 * as a `data:` event; the HTTP code it carries decides whether another provider may be tried.
 */
export function geminiUpstreamError(error: { code?: number; message?: string; status?: string }): UpstreamError {
  const code = error.code ?? 500;
  return new UpstreamError('gemini', `Gemini returned ${error.status ?? 'an error'} (${code}): ${error.message ?? 'no message'}`, {
    upstreamStatus: code,
    retryable: isRetryableStatus(code),
  });
}
