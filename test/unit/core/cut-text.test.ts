import { describe, expect, it } from 'vitest';
import { cutText } from '../../../src/core/index.js';

describe('cutText', () => {
  it('keeps a text within the limit as it is, and cuts a longer one to the limit', () => {
    expect(cutText('hello', 5)).toBe('hello');
    expect(cutText('hello world', 5)).toBe('hello');
  });

  it('never cuts between the halves of a surrogate pair: the pair goes whole or not at all', () => {
    const emoji = '\u{1F600}'; // two UTF-16 code units
    const text = `${'a'.repeat(499)}${emoji}tail`;
    const cut = cutText(text, 500);
    expect(cut).toBe('a'.repeat(499));
    // What a lone surrogate becomes in JSON: an escape strict readers refuse.
    expect(JSON.stringify(cut)).not.toMatch(/\\ud[89ab]/i);
    expect(cutText(text, 501)).toBe(`${'a'.repeat(499)}${emoji}`);
  });
});
