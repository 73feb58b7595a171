import { isJsonObject } from '../request/json-object.js';

/**
 * JSON Schema (what OpenAI and Anthropic tool definitions carry) → the Schema object that Gemini's
 * `functionDeclarations[].parameters` accepts, a subset of OpenAPI 3.0 (https://ai.google.dev/api/caching#Schema).
 * Gemini refuses keywords it does not define ("Invalid JSON payload received. Unknown name ..."), so this keeps only
 * Schema's own keywords and rewrites the JSON Schema forms that have an equivalent:
 *
 * - kept: type, format (see below), title, description, nullable, enum, items, minItems, maxItems, properties,
 *   required, minProperties, maxProperties, minLength, maxLength, pattern, minimum, maximum, anyOf, propertyOrdering,
 *   default, example.
 * - rewritten: a `$ref` to `#`, `#/$defs/…` or `#/definitions/…` is inlined (a reference back into a schema that is
 *   being inlined — recursion, which Schema cannot express — and an unknown reference become a bare object);
 *   `allOf` is merged into its parent; `oneOf` becomes `anyOf`; `const` becomes a one-value `enum`;
 *   `type: [T, "null"]`, an `anyOf` branch `{type: "null"}` and a `null` enum value become `nullable: true`;
 *   `type: [A, B]` becomes `anyOf` with the object and array keywords moved into their branch; `examples[0]`
 *   becomes `example`; `properties`/`required` without a type make it an object.
 * - `enum` is kept when its values are strings (Gemini: "enum only allowed for STRING type"); other values are
 *   listed in the description instead.
 * - `format` is kept only where Gemini accepts it ("only 'enum' and 'date-time' are supported for STRING type";
 *   float/double for numbers, int32/int64 for integers).
 * - `properties`/`required` are dropped from non-object schemas ("only allowed for OBJECT type"), `required` names
 *   missing from `properties` are dropped ("property is not defined"), and an empty `properties` map is dropped
 *   ("should be non-empty for OBJECT type").
 * - dropped: every other keyword, notably `$schema`, `$id`, `$defs`/`definitions` (after inlining),
 *   `additionalProperties`, `patternProperties`, `unevaluatedProperties`, `propertyNames`, `dependentRequired`,
 *   `dependentSchemas`, `if`/`then`/`else`, `not`, `contains`, `prefixItems`, `uniqueItems`, `exclusiveMinimum`,
 *   `exclusiveMaximum`, `multipleOf`, `contentEncoding`, `contentMediaType`, `readOnly`, `writeOnly`, `deprecated`,
 *   `$comment` and OpenAI's `strict`.
 *
 * An object schema without properties at the top means "no parameters": the result is then `undefined` and the
 * declaration goes without `parameters`. Nested, it stays a bare `{ type: "object" }`.
 */

type Schema = Record<string, unknown>;

const KEPT_KEYWORDS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'items', 'minItems', 'maxItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'minimum', 'maximum', 'anyOf', 'propertyOrdering',
  'default', 'example',
]);

/** Formats Gemini accepts, per type; any other format is dropped. */
const ACCEPTED_FORMATS: Record<string, readonly string[]> = {
  string: ['enum', 'date-time'],
  number: ['float', 'double'],
  integer: ['int32', 'int64'],
};

/** Keywords that belong to one type, moved into that type's branch when a multi-type schema becomes `anyOf`. */
const KEYWORDS_OF_TYPE: Record<string, readonly string[]> = {
  object: ['properties', 'required', 'minProperties', 'maxProperties', 'propertyOrdering'],
  array: ['items', 'minItems', 'maxItems'],
  string: ['minLength', 'maxLength', 'pattern'],
};

interface CleaningContext {
  definitions: Map<string, unknown>;
  /** References being inlined right now: meeting one again means recursion. */
  inlining: Set<string>;
}

export function cleanSchemaForGemini(schema: Record<string, unknown>): Record<string, unknown> | undefined {
  const context: CleaningContext = { definitions: definitionsOf(schema), inlining: new Set(['#']) };
  const cleaned = cleanNode(schema, context);
  const hasProperties = isJsonObject(cleaned.properties) && Object.keys(cleaned.properties).length > 0;
  const isBareObject = (cleaned.type === undefined || String(cleaned.type).toLowerCase() === 'object') && !hasProperties && cleaned.anyOf === undefined;
  return isBareObject ? undefined : cleaned;
}

function definitionsOf(root: Schema): Map<string, unknown> {
  const definitions = new Map<string, unknown>([['#', root]]);
  for (const container of ['$defs', 'definitions']) {
    const entries = root[container];
    if (!isJsonObject(entries)) continue;
    for (const [name, schema] of Object.entries(entries)) definitions.set(`#/${container}/${name}`, schema);
  }
  return definitions;
}

function cleanNode(node: unknown, context: CleaningContext): Schema {
  // `true` and `{}` accept any value; Schema has no way to say so, so the node stays unconstrained.
  if (!isJsonObject(node)) return {};
  if (typeof node.$ref === 'string') return cleanReference(node, node.$ref, context);
  if (Array.isArray(node.allOf)) {
    const { allOf, ...rest } = node;
    return mergeSchemas([...allOf.map((branch) => cleanNode(branch, context)), cleanNode(rest, context)]);
  }
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case 'properties':
        if (isJsonObject(value)) out.properties = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, cleanNode(schema, context)]));
        break;
      case 'items':
        if (isJsonObject(value)) out.items = cleanNode(value, context); // tuple-form `items` has no equivalent
        break;
      case 'anyOf':
      case 'oneOf':
        if (Array.isArray(value)) adoptAlternatives(out, value.map((branch) => cleanNode(branch, context)));
        break;
      case 'type':
        Object.assign(out, typeKeywords(value));
        break;
      case 'const':
        out.enum = [value];
        break;
      case 'examples':
        if (Array.isArray(value) && value.length > 0) out.example ??= value[0];
        break;
      default:
        if (KEPT_KEYWORDS.has(key)) out[key] = value;
    }
  }
  return splitMultiType(fixObjectKeywords(fixFormat(fixEnum(out))));
}

function cleanReference(node: Schema, ref: string, context: CleaningContext): Schema {
  const { $ref: _ref, ...siblings } = node;
  const target = context.definitions.get(ref);
  if (!isJsonObject(target) || context.inlining.has(ref)) {
    return cleanNode({ type: 'object', ...siblings }, context);
  }
  context.inlining.add(ref);
  try {
    return cleanNode({ ...target, ...siblings }, context);
  } finally {
    context.inlining.delete(ref);
  }
}

/** `allOf`: properties and required lists are united; for other keywords the later schema wins. */
function mergeSchemas(schemas: Schema[]): Schema {
  const merged: Schema = {};
  for (const schema of schemas) {
    for (const [key, value] of Object.entries(schema)) {
      if (key === 'properties' && isJsonObject(merged.properties) && isJsonObject(value)) merged.properties = { ...merged.properties, ...value };
      else if (key === 'required' && Array.isArray(merged.required) && Array.isArray(value)) merged.required = [...new Set([...merged.required, ...value])];
      else merged[key] = value;
    }
  }
  return merged;
}

/** `anyOf`/`oneOf`: a `{type: "null"}` branch becomes `nullable`; a single remaining branch is folded into the parent. */
function adoptAlternatives(out: Schema, branches: Schema[]): void {
  const nonNull = branches.filter((branch) => branch.type !== 'null');
  if (nonNull.length !== branches.length) out.nullable = true;
  if (nonNull.length === 1) {
    for (const [key, value] of Object.entries(nonNull[0]!)) if (!(key in out)) out[key] = value;
  } else if (nonNull.length > 1) {
    out.anyOf = nonNull;
  }
}

function typeKeywords(type: unknown): Schema {
  if (!Array.isArray(type)) return { type };
  const nonNull = type.filter((t) => t !== 'null');
  const nullable = nonNull.length !== type.length ? { nullable: true } : {};
  if (nonNull.length === 0) return { type: 'null' };
  if (nonNull.length === 1) return { type: nonNull[0], ...nullable };
  return { type: nonNull, ...nullable }; // split into anyOf once the whole node is known, see splitMultiType
}

function fixEnum(out: Schema): Schema {
  if (!Array.isArray(out.enum)) return out;
  const values = out.enum.filter((value) => value !== null);
  if (values.length !== out.enum.length) out.nullable = true;
  if (values.every((value) => typeof value === 'string')) {
    out.enum = values;
    out.type ??= 'string';
    return out;
  }
  const { enum: _enum, ...rest } = out;
  const allowed = `One of: ${values.map((value) => JSON.stringify(value)).join(', ')}.`;
  return { ...rest, description: typeof rest.description === 'string' && rest.description ? `${rest.description} ${allowed}` : allowed };
}

function fixFormat(out: Schema): Schema {
  if (out.format === undefined) return out;
  const accepted = ACCEPTED_FORMATS[String(out.type).toLowerCase()] ?? [];
  if (typeof out.format === 'string' && accepted.includes(out.format)) return out;
  const { format: _format, ...rest } = out;
  return rest;
}

function fixObjectKeywords(out: Schema): Schema {
  if (out.type === undefined && (out.properties !== undefined || out.required !== undefined)) out.type = 'object';
  const types = Array.isArray(out.type) ? out.type.map(String) : [String(out.type)];
  if (!types.some((t) => t.toLowerCase() === 'object')) {
    const { properties: _properties, required: _required, ...rest } = out;
    return rest;
  }
  const names = isJsonObject(out.properties) ? Object.keys(out.properties) : [];
  if (names.length === 0) delete out.properties;
  if (Array.isArray(out.required)) {
    const required = out.required.filter((name) => names.includes(String(name)));
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  return out;
}

/** `type: [A, B]` (no Schema equivalent) → `anyOf` of one branch per type, each taking the keywords of its type. */
function splitMultiType(out: Schema): Schema {
  if (!Array.isArray(out.type)) return out;
  const { type: types, ...rest } = out;
  const branches = (types as unknown[]).map((type) => {
    const branch: Schema = { type };
    for (const keyword of KEYWORDS_OF_TYPE[String(type).toLowerCase()] ?? []) {
      if (rest[keyword] !== undefined) branch[keyword] = rest[keyword];
    }
    return branch;
  });
  const moved = new Set(Object.values(KEYWORDS_OF_TYPE).flat());
  return { ...Object.fromEntries(Object.entries(rest).filter(([key]) => !moved.has(key))), anyOf: branches };
}
