import type { WireFormat } from '../core/index.js';
import { GatewayError } from './gateway-error.js';

/** Anthropic's error types are a subset of ours; the rest map to the closest one it documents. */
function anthropicType(err: GatewayError): string {
  switch (err.type) {
    case 'upstream_error':
    case 'timeout_error':
      return err.status === 503 ? 'overloaded_error' : 'api_error';
    default:
      return err.type;
  }
}

const GRPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 405: 'UNIMPLEMENTED',
  413: 'INVALID_ARGUMENT', 414: 'INVALID_ARGUMENT', 429: 'RESOURCE_EXHAUSTED', 500: 'INTERNAL', 502: 'UNAVAILABLE', 503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

/** The JSON error body a client of `format` expects (OpenAI, Anthropic or Gemini shape). */
export function errorBody(format: WireFormat, err: GatewayError): Record<string, unknown> {
  switch (format) {
    case 'anthropic':
      return { type: 'error', error: { type: anthropicType(err), message: err.message, ...(err.details ? { details: err.details } : {}) } };
    case 'gemini':
      return { error: { code: err.status, message: err.message, status: GRPC_STATUS[err.status] ?? 'UNKNOWN' } };
    default:
      return {
        error: { message: err.message, type: err.type, code: err.code, param: err.param, ...(err.details ? { details: err.details } : {}) },
      };
  }
}

/**
 * An error delivered inside an already-started SSE stream, in the shape each official SDK recognises:
 * openai-node throws on a `data:` payload with an `error` key; the Anthropic SDK on an `event: error`. A Responses
 * stream gets its `error` event (https://platform.openai.com/docs/api-reference/responses-streaming/error) with the
 * next `sequence_number`, carrying the fields both flat (OpenAI's shape, read by the Vercel AI SDK) and under
 * `error` (what openai-node throws on).
 */
export function errorEvent(format: WireFormat, err: GatewayError, sequenceNumber = 0): string {
  if (format === 'responses') {
    const fields = { code: err.code, message: err.message, param: err.param };
    return `event: error\ndata: ${JSON.stringify({ type: 'error', sequence_number: sequenceNumber, ...fields, error: { type: err.type, ...fields } })}\n\n`;
  }
  const body = JSON.stringify(errorBody(format, err));
  if (format === 'anthropic') return `event: error\ndata: ${body}\n\n`;
  return `data: ${body}\n\n`;
}
