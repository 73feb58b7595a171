import type { z } from 'zod';
import { badRequest } from '../errors/index.js';

/** Parses query or path parameters; a failure is a 400 that names the parameter and what is wrong with it. */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  if (unknownKeys.length > 0) throw badRequest(`Unknown query parameter "${unknownKeys[0]}".`, unknownKeys[0], 'invalid_query');
  const param = issue.path.join('.');
  throw badRequest(`Invalid parameter "${param}": ${issue.message}.`, param, 'invalid_query');
}
