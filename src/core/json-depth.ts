/**
 * How deeply a JSON value a client sends may nest arrays and objects. Real requests stay far below (a conversation is
 * about six levels, a tool's JSON schema a few dozen; OpenAI's structured outputs take 10), while every step that
 * walks one — sanitizing, estimating tokens, serialising for a provider or a peer — recurses, and a value nested some
 * thousands of levels (a few KB) would exhaust the stack there.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Whether `value` nests deeper than MAX_JSON_DEPTH. Iterative, so the check cannot overflow itself; two parallel
 * stacks (objects, their depths) and only objects pushed, since it runs on every request body.
 */
export function nestsTooDeep(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const items: object[] = [value];
  const depths: number[] = [1];
  while (items.length > 0) {
    const item = items.pop()!;
    const depth = depths.pop()! + 1;
    const children = Array.isArray(item) ? (item as unknown[]) : Object.values(item);
    for (let i = 0; i < children.length; i++) {
      const child = children[i];
      if (child === null || typeof child !== 'object') continue;
      if (depth > MAX_JSON_DEPTH) return true;
      items.push(child);
      depths.push(depth);
    }
  }
  return false;
}
