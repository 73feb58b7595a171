/**
 * Gemini carries function-call arguments and function responses as JSON objects (protobuf `Struct`,
 * https://ai.google.dev/api/caching#FunctionCall), where the canonical form carries JSON text.
 */

export const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The object a JSON text encodes, or undefined when the text is not JSON or not an object. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tool-call arguments for a Gemini client: a model that produced no arguments gets `{}`, and one that produced text
 * that is not a JSON object gets it wrapped (`{ _raw: text }`) rather than lost — the Anthropic codec does the same.
 */
export function argumentsObject(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  return parseJsonObject(text) ?? { _raw: text };
}
