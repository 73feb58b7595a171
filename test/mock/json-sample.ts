/**
 * A JSON value that satisfies a JSON Schema (or a Gemini Schema, whose types are upper-case), built from the schema
 * alone: how the mock "model" answers a structured-output request or fills in a forced tool's arguments. Strings carry
 * the user's text so a test can see its request arrived.
 */
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function sampleFromSchema(schema: unknown, text: string): unknown {
  return sample(schema, text, schema as Json, 0);
}

function sample(node: unknown, text: string, root: Json, depth: number): unknown {
  if (!node || typeof node !== 'object' || depth > 12) return text;
  const s = node as Json;
  if (typeof s.$ref === 'string') return sample(resolveRef(root, s.$ref), text, root, depth + 1);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  const variants = s.anyOf ?? s.oneOf;
  if (Array.isArray(variants) && variants.length) return sample(variants.find((v: Json) => v?.type !== 'null') ?? variants[0], text, root, depth + 1);
  if (Array.isArray(s.allOf) && s.allOf.length) return sample(Object.assign({}, ...s.allOf), text, root, depth + 1);
  const types: string[] = (Array.isArray(s.type) ? s.type : [s.type]).filter((t: unknown): t is string => typeof t === 'string').map((t: string) => t.toLowerCase());
  const type = types.find((t) => t !== 'null') ?? (s.properties ? 'object' : s.items ? 'array' : types[0]);
  switch (type) {
    case 'object':
      return Object.fromEntries(Object.entries((s.properties ?? {}) as Json).map(([name, inner]) => [name, sample(inner, text, root, depth + 1)]));
    case 'array':
      return Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => sample(s.items, text, root, depth + 1));
    case 'integer':
      return Math.ceil(s.minimum ?? s.maximum ?? 42);
    case 'number':
      return s.minimum ?? s.maximum ?? 42.5;
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string':
      return s.format === 'date-time' ? '2026-01-01T00:00:00Z' : s.format === 'date' ? '2026-01-01' : s.format === 'email' ? 'user@example.com' : s.format === 'uri' ? 'https://example.com/' : text;
    default:
      return text;
  }
}

function resolveRef(root: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref.slice(2).split('/').reduce<unknown>((node, key) => (node as Json | undefined)?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], root);
}
