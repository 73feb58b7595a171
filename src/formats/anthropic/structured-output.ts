import type { ResponseFormat } from '../canonical.js';

/**
 * Structured output towards Anthropic (https://docs.claude.com/en/docs/build-with-claude/structured-outputs).
 * Models that take `output_config.format` get the JSON schema there and answer with JSON text; any other model is
 * given a tool whose input schema is the wanted schema and is made to call it, and the tool's input comes back to the
 * client as the message text (streamed as text deltas). The tool's reserved name is how the decoders recognise it,
 * so no state is kept between request and response.
 */

/**
 * Models with structured outputs generally available on the Claude API (Anthropic's list: Opus 4.5, 4.6 and 4.7,
 * Sonnet 4.5 and 4.6, Haiku 4.5). A provider's `structured_output_models` replaces this list: exact names or a prefix
 * ending in `*`.
 */
export const DEFAULT_STRUCTURED_OUTPUT_MODELS: readonly string[] = [
  'claude-opus-4-7*', 'claude-opus-4-6*', 'claude-sonnet-4-6*', 'claude-opus-4-5*', 'claude-sonnet-4-5*', 'claude-haiku-4-5*',
];

/** The answer tool for an object schema: its input is the answer. */
export const JSON_OUTPUT_TOOL = 'meshgate_json_output';
/** The answer tool for any other schema (a tool input must be an object): the answer is its `value`. */
export const JSON_VALUE_TOOL = 'meshgate_json_value';

export const isAnswerTool = (name: string | undefined) => name === JSON_OUTPUT_TOOL || name === JSON_VALUE_TOOL;

export function takesOutputFormat(model: string, patterns: readonly string[] = DEFAULT_STRUCTURED_OUTPUT_MODELS): boolean {
  return patterns.some((pattern) => (pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : model === pattern));
}

export type AnthropicStructuredOutput =
  | { kind: 'output_format'; format: Record<string, unknown> }
  | { kind: 'answer_tool'; tool: Record<string, unknown> };

/** How a canonical JSON response format is asked of `model`; undefined for plain text. */
export function structuredOutputForAnthropic(
  format: ResponseFormat | undefined, model: string, patterns?: readonly string[],
): AnthropicStructuredOutput | undefined {
  if (!format || format.type === 'text') return undefined;
  // JSON mode has no schema, and output_config.format needs one: any object is an answer tool's input.
  if (format.type === 'json_object') {
    return { kind: 'answer_tool', tool: answerTool(JSON_OUTPUT_TOOL, { type: 'object', additionalProperties: true }) };
  }
  if (takesOutputFormat(model, patterns)) return { kind: 'output_format', format: { type: 'json_schema', schema: schemaForAnthropic(format.schema) } };
  const isObject = format.schema.type === 'object';
  return isObject
    ? { kind: 'answer_tool', tool: answerTool(JSON_OUTPUT_TOOL, format.schema, format.name) }
    : { kind: 'answer_tool', tool: answerTool(JSON_VALUE_TOOL, { type: 'object', properties: { value: format.schema }, required: ['value'], additionalProperties: false }, format.name) };
}

function answerTool(name: string, schema: Record<string, unknown>, title?: string): Record<string, unknown> {
  return {
    name,
    description: `Give your whole answer to the user by calling this tool${title ? ` (the ${title} object)` : ''}; its input is the answer, as JSON matching the schema.`,
    input_schema: schema,
  };
}

/** The answer text of an answer tool's input: the object itself, or the `value` of a wrapped schema. */
export function answerText(toolName: string, input: unknown): string {
  const value = toolName === JSON_VALUE_TOOL ? (input as { value?: unknown } | undefined)?.value : input;
  return JSON.stringify(value ?? {});
}

/**
 * Keywords Anthropic's structured outputs refuse (numeric and string bounds, array sizes beyond 0/1, formats it does
 * not list): moved into the description, as Anthropic's own SDKs do, so the model still sees them. Objects must close
 * their properties (`additionalProperties: false`).
 */
const UNSUPPORTED = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'pattern', 'maxItems', 'minProperties', 'maxProperties'];

export function schemaForAnthropic(schema: unknown): Record<string, unknown> {
  return clean(schema) as Record<string, unknown>;
}

function clean(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(clean);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  const moved: string[] = [];
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (UNSUPPORTED.includes(key) || (key === 'minItems' && typeof value === 'number' && value > 1)) moved.push(`${key}: ${JSON.stringify(value)}`);
    else if (key === 'properties' || key === '$defs' || key === 'definitions') out[key] = Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([name, inner]) => [name, clean(inner)]));
    else out[key] = clean(value);
  }
  if (out.type === 'object' && out.additionalProperties !== false) out.additionalProperties = false;
  if (moved.length) out.description = [out.description, `{${moved.join(', ')}}`].filter(Boolean).join(' ');
  return out;
}

/** Beta features whose request fields a translation carries to other formats (the structured-outputs beta's `output_format`). */
const TRANSLATED_BETAS = [/^structured-outputs-/];

/** The `anthropic-beta` features a translation to another format cannot honour. */
export function betasLostInTranslation(header: string): string[] {
  return header.split(',').map((beta) => beta.trim()).filter((beta) => beta !== '' && !TRANSLATED_BETAS.some((known) => known.test(beta)));
}

/**
 * The response format an Anthropic client asked for: `output_config.format` (GA) or the beta's top-level
 * `output_format`, both `{type: "json_schema", schema}`.
 */
export function responseFormatFromAnthropic(body: { output_config?: unknown; output_format?: unknown }): ResponseFormat | undefined {
  const format = ((body.output_config as { format?: unknown } | undefined)?.format ?? body.output_format) as { type?: string; schema?: unknown } | undefined;
  if (!format || format.type !== 'json_schema' || !format.schema || typeof format.schema !== 'object') return undefined;
  // Not `strict`: OpenAI's strict mode needs every property required, which an Anthropic schema need not have.
  return { type: 'json_schema', name: 'response', schema: format.schema as Record<string, unknown> };
}
