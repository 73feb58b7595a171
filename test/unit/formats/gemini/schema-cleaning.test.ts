import { describe, expect, it } from 'vitest';
import { cleanSchemaForGemini, geminiSchemaToJsonSchema } from '../../../../src/formats/gemini/index.js';

/** Cleans `schema` nested as the property `x` of an object, so the top-level rules stay out of the way. */
const cleanProperty = (schema: unknown) =>
  (cleanSchemaForGemini({ type: 'object', properties: { x: schema } })!.properties as Record<string, unknown>).x;

describe('JSON Schema → Gemini Schema (tool parameters)', () => {
  it('drops keywords Gemini does not define, at every depth, but never a property named like one', () => {
    expect(cleanSchemaForGemini({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $id: 'urn:tool',
      type: 'object',
      additionalProperties: false,
      properties: {
        additionalProperties: { type: 'string', $comment: 'a property with a keyword name' },
        tags: { type: 'array', uniqueItems: true, items: { type: 'string', minLength: 1, not: { const: '' } } },
        count: { type: 'integer', exclusiveMinimum: 0, multipleOf: 1, default: 1, examples: [3, 4] },
      },
      required: ['tags'],
      strict: true,
    })).toEqual({
      type: 'object',
      properties: {
        additionalProperties: { type: 'string' },
        tags: { type: 'array', items: { type: 'string', minLength: 1 } },
        count: { type: 'integer', default: 1, example: 3 },
      },
      required: ['tags'],
    });
  });

  it('means "no parameters" for an object without properties at the top, and keeps a bare object nested', () => {
    expect(cleanSchemaForGemini({ type: 'object', properties: {}, additionalProperties: false })).toBeUndefined();
    expect(cleanSchemaForGemini({})).toBeUndefined();
    expect(cleanProperty({ type: 'object', properties: {}, description: 'free-form options' })).toEqual({ type: 'object', description: 'free-form options' });
  });

  it('inlines $ref to $defs and definitions, and cuts recursion to a bare object', () => {
    const cleaned = cleanSchemaForGemini({
      type: 'object',
      properties: {
        address: { $ref: '#/$defs/Address', description: 'Where to ship' },
        person: { $ref: '#/definitions/Person' },
      },
      $defs: { Address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      definitions: { Person: { type: 'object', properties: { name: { type: 'string' }, parent: { $ref: '#/definitions/Person' } } } },
    });
    expect(cleaned).toEqual({
      type: 'object',
      properties: {
        address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], description: 'Where to ship' },
        person: { type: 'object', properties: { name: { type: 'string' }, parent: { type: 'object' } } },
      },
    });
    expect(JSON.stringify(cleaned)).not.toContain('$ref');
  });

  it('merges allOf into its parent', () => {
    expect(cleanProperty({
      allOf: [{ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }, { properties: { b: { type: 'number' } }, required: ['b'] }],
      description: 'both',
    })).toEqual({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a', 'b'], description: 'both' });
  });

  it('turns nullability forms into nullable: type lists, null branches and null enum values', () => {
    expect(cleanProperty({ type: ['string', 'null'] })).toEqual({ type: 'string', nullable: true });
    expect(cleanProperty({ anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'optional count' })).toEqual({ type: 'integer', nullable: true, description: 'optional count' });
    expect(cleanProperty({ enum: ['low', 'high', null] })).toEqual({ enum: ['low', 'high'], nullable: true, type: 'string' });
  });

  it('keeps real alternatives as anyOf (oneOf included) and splits multi-type schemas into branches', () => {
    expect(cleanProperty({ oneOf: [{ type: 'string' }, { type: 'number' }] })).toEqual({ anyOf: [{ type: 'string' }, { type: 'number' }] });
    expect(cleanProperty({ type: ['object', 'array', 'null'], properties: { a: { type: 'string' } }, items: { type: 'string' }, description: 'either' })).toEqual({
      nullable: true,
      description: 'either',
      anyOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { type: 'array', items: { type: 'string' } }],
    });
  });

  it('keeps string enums (typing them as strings), and lists other enum values in the description', () => {
    expect(cleanProperty({ const: 'fixed' })).toEqual({ enum: ['fixed'], type: 'string' });
    expect(cleanProperty({ type: 'integer', enum: [1, 2, 3], description: 'Level.' })).toEqual({ type: 'integer', description: 'Level. One of: 1, 2, 3.' });
  });

  it('keeps only the formats Gemini accepts for each type', () => {
    expect(cleanProperty({ type: 'string', format: 'date-time' })).toEqual({ type: 'string', format: 'date-time' });
    expect(cleanProperty({ type: 'string', format: 'email' })).toEqual({ type: 'string' });
    expect(cleanProperty({ type: 'number', format: 'double' })).toEqual({ type: 'number', format: 'double' });
    expect(cleanProperty({ type: 'integer', format: 'uint8' })).toEqual({ type: 'integer' });
  });

  it('keeps object keywords on objects only and required names that exist', () => {
    expect(cleanProperty({ type: 'string', properties: { a: { type: 'string' } }, required: ['a'] })).toEqual({ type: 'string' });
    expect(cleanProperty({ properties: { a: { type: 'string' } }, required: ['a', 'ghost'] })).toEqual({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] });
    expect(cleanProperty({ type: 'object', required: ['ghost'] })).toEqual({ type: 'object' });
  });
});

describe('Gemini Schema → JSON Schema', () => {
  it('lower-cases types, turns nullable into a null type, and drops Gemini-only keywords', () => {
    expect(geminiSchemaToJsonSchema({
      type: 'OBJECT',
      propertyOrdering: ['size', 'color'],
      properties: {
        size: { type: 'STRING', format: 'enum', enum: ['S', 'M'], nullable: true },
        color: { type: 'ARRAY', items: { type: 'STRING' }, minItems: '1', example: ['red'] },
        any: { anyOf: [{ type: 'INTEGER' }, { type: 'BOOLEAN' }], nullable: true },
      },
      required: ['size'],
    })).toEqual({
      type: 'object',
      properties: {
        size: { type: ['string', 'null'], enum: ['S', 'M', null] },
        color: { type: 'array', items: { type: 'string' }, minItems: 1, examples: [['red']] },
        any: { anyOf: [{ type: 'integer' }, { type: 'boolean' }, { type: 'null' }] },
      },
      required: ['size'],
    });
  });
});
