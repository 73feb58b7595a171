/**
 * How deeply a JSON value a client sends may nest arrays and objects. Real requests stay far below (a conversation is
 * about six levels, a tool's JSON schema a few dozen; OpenAI's structured outputs take 10), while every step that
 * walks one — sanitizing, estimating tokens, serialising for a provider or a peer — recurses, and a value nested some
 * thousands of levels (a few KB) would exhaust the stack there.
 */
export const MAX_JSON_DEPTH = 128;

/** Whether `value` nests deeper than MAX_JSON_DEPTH. Iterative, so the check cannot overflow itself. */
export function nestsTooDeep(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (depth > MAX_JSON_DEPTH) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}
