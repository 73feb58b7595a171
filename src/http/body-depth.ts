import { badRequest } from '../errors/index.js';

/**
 * How deeply a request body may nest arrays and objects. Real requests stay far below (a conversation is about six
 * levels, a tool's JSON schema a few dozen; OpenAI's structured outputs take 10), while every step that walks a body
 * — sanitizing it, estimating its tokens, serialising it for a provider or a peer — recurses, and a body nested some
 * thousands of levels (a few KB) would exhaust the stack there and answer 500 for the client's own input.
 */
export const MAX_BODY_DEPTH = 128;

/** Throws a 400 when `body` nests deeper than MAX_BODY_DEPTH. Iterative, so the check cannot overflow itself. */
export function checkBodyDepth(body: unknown): void {
  if (body === null || typeof body !== 'object') return;
  const stack: Array<[unknown, number]> = [[body, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > MAX_BODY_DEPTH) throw badRequest(`The request body nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep.`);
    for (const child of Array.isArray(value) ? value : Object.values(value as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
}
