import type { z } from 'zod';
import { GatewayError } from '../errors/index.js';

/** A zod failure on a client body as one 400 naming the first bad field, e.g. `messages[2].content: expected string`. */
export function zodIssueToBadRequest(error: z.ZodError): GatewayError {
  const issue = error.issues[0]!;
  const param = issue.path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
  const message = param ? `Invalid request: ${param}: ${issue.message}` : `Invalid request: ${issue.message}`;
  return new GatewayError('invalid_request', message, { param: param || undefined });
}
