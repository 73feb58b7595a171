import { isJsonObject } from '../request/json-object.js';

/**
 * Gemini Schema (https://ai.google.dev/api/caching#Schema, used by `functionDeclarations[].parameters` and
 * `generationConfig.responseSchema`) → JSON Schema, for targets that take JSON Schema. Google's SDKs send the type
 * enum in upper case (`"OBJECT"`, `"STRING"`), which JSON Schema validators such as OpenAI's refuse, so types are
 * lower-cased; `nullable` becomes a `"null"` type; `example` becomes `examples`; the int64 limits that proto JSON
 * may carry as strings (`"minItems": "1"`) become numbers; `propertyOrdering`, `format: "enum"` and
 * `TYPE_UNSPECIFIED` have no JSON Schema meaning and are dropped.
 */

type Schema = Record<string, unknown>;

const INTEGER_KEYWORDS = new Set(['minItems', 'maxItems', 'minLength', 'maxLength', 'minProperties', 'maxProperties']);

export function geminiSchemaToJsonSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    switch (key) {
      case 'type':
        if (typeof value === 'string' && value !== 'TYPE_UNSPECIFIED') out.type = value.toLowerCase();
        break;
      case 'properties':
        if (isJsonObject(value)) out.properties = Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, convertNested(inner)]));
        break;
      case 'items':
        out.items = convertNested(value);
        break;
      case 'anyOf':
        if (Array.isArray(value)) out.anyOf = value.map(convertNested);
        break;
      case 'example':
        out.examples = [value];
        break;
      case 'format':
        if (value !== 'enum') out.format = value;
        break;
      case 'nullable':
      case 'propertyOrdering':
        break;
      default:
        out[key] = INTEGER_KEYWORDS.has(key) && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    }
  }
  if (schema.nullable === true) return withNull(out);
  return out;
}

const convertNested = (value: unknown): unknown => (isJsonObject(value) ? geminiSchemaToJsonSchema(value) : value);

function withNull(out: Schema): Schema {
  if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  if (typeof out.type === 'string') return { ...out, type: [out.type, 'null'] };
  if (Array.isArray(out.anyOf)) return { ...out, anyOf: [...out.anyOf, { type: 'null' }] };
  return out;
}
