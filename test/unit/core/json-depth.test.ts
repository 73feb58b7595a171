import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsTooDeep } from '../../../src/core/index.js';

const nested = (levels: number, wrap: (inner: unknown) => unknown, leaf: unknown = 1) => {
  let value: unknown = leaf;
  for (let i = 0; i < levels; i++) value = wrap(value);
  return value;
};

describe('nestsTooDeep', () => {
  it('allows MAX_JSON_DEPTH levels of arrays and objects and refuses one more, wherever the deep branch is', () => {
    const shapes: Array<{ wrap: (inner: unknown) => unknown; levels: number }> = [
      { wrap: (v) => [v], levels: 1 },
      { wrap: (v) => ({ k: v }), levels: 1 },
      { wrap: (v) => ({ a: 'x', b: [0, v] }), levels: 2 },
    ];
    for (const { wrap, levels } of shapes) {
      expect(nestsTooDeep(nested(MAX_JSON_DEPTH / levels, wrap))).toBe(false);
      expect(nestsTooDeep([1, 'x', null, { shallow: true }, nested(MAX_JSON_DEPTH / levels + 1, wrap)])).toBe(true);
    }
    // An empty array or object at the last level counts as a level; a scalar there does not.
    expect(nestsTooDeep(nested(MAX_JSON_DEPTH, (v) => [v], []))).toBe(true);
    expect(nestsTooDeep(nested(MAX_JSON_DEPTH, (v) => [v], 'leaf'))).toBe(false);
    expect(nestsTooDeep(nested(MAX_JSON_DEPTH - 1, (v) => [v], {}))).toBe(false);
  });

  it('answers for scalars and for depth far beyond the stack (no recursion)', () => {
    for (const scalar of [null, 1, 'x', true]) expect(nestsTooDeep(scalar)).toBe(false);
    expect(nestsTooDeep(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)))).toBe(true);
  });
});
