/**
 * Gemini's `parameters` takes an OpenAPI 3.0 Schema subset (https://ai.google.dev/api/caching#Schema), not full JSON
 * Schema: `$schema`, `$id`, `$ref`/`$defs`, `additionalProperties`, `default`, `examples`, `const`, `patternProperties`,
 * `if`/`then`/`else`, `not`, and `allOf`/`oneOf` are refused by the API. They are dropped (recursively); a `const`
 * becomes a one-value `enum`, `oneOf` becomes `anyOf` (which Gemini accepts), and `type: [T, "null"]` becomes
 * `type: T, nullable: true`.
 */
const DROPPED = new Set(['$schema', '$id', '$ref', '$defs', 'definitions', 'additionalProperties', 'default', 'examples', 'patternProperties', 'if', 'then', 'else', 'not', 'allOf', 'unevaluatedProperties', 'dependentRequired', 'dependentSchemas', '$comment', 'strict']);

export function cleanSchemaForGemini(schema: unknown): Record<string, unknown> {
  return clean(schema) as Record<string, unknown>;
}

function clean(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clean);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    if (DROPPED.has(key)) continue;
    if (key === 'const') {
      out.enum = [inner];
      continue;
    }
    if (key === 'oneOf') {
      out.anyOf = clean(inner);
      continue;
    }
    if (key === 'type' && Array.isArray(inner)) {
      const types = inner.filter((t) => t !== 'null');
      out.type = types[0];
      if (types.length !== inner.length) out.nullable = true;
      continue;
    }
    // `properties` maps names to schemas: clean each schema, never drop a property that is named like a keyword.
    out[key] = key === 'properties' && inner && typeof inner === 'object'
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).map(([name, s]) => [name, clean(s)]))
      : clean(inner);
  }
  return out;
}
