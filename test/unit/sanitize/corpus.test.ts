import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSanitizer, sanitizationConfigSchema } from '../../../src/sanitize/index.js';

interface Case { detector: string; text: string; secret: string | null }
const corpus = JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/sanitize/corpus.json'), 'utf8')) as Case[];
const sanitizer = createSanitizer(sanitizationConfigSchema.parse({ redact_pii: true }));

describe('detector corpus', () => {
  it('finds every labelled secret and nothing in the near misses (precision and recall 100% per detector)', () => {
    const stats = new Map<string, { tp: number; fp: number; fn: number }>();
    const stat = (d: string) => stats.get(d) ?? stats.set(d, { tp: 0, fp: 0, fn: 0 }).get(d)!;
    const failures: string[] = [];
    for (const c of corpus) {
      const { text, types } = sanitizer.scanText(c.text);
      if (c.secret) {
        const found = types.includes(c.detector) && !text.includes(c.secret);
        if (found) stat(c.detector).tp++;
        else {
          stat(c.detector).fn++;
          failures.push(`missed ${c.detector}: ${c.text.slice(0, 60)} → [${types}]`);
        }
      }
      // Anything found in a near miss, or of another type in a positive, is a false positive of that type.
      for (const type of types) {
        if (c.secret && type === c.detector) continue;
        stat(type).fp++;
        failures.push(`false ${type} in ${c.detector} case: ${c.text.slice(0, 60)}`);
      }
    }
    const rows = [...stats].sort().map(([d, s]) => {
      const precision = s.tp + s.fp === 0 ? 1 : s.tp / (s.tp + s.fp);
      const recall = s.tp + s.fn === 0 ? 1 : s.tp / (s.tp + s.fn);
      return `${d.padEnd(22)} precision ${(precision * 100).toFixed(0).padStart(3)}%  recall ${(recall * 100).toFixed(0).padStart(3)}%  (tp ${s.tp}, fp ${s.fp}, fn ${s.fn})`;
    });
    console.log(`sanitization corpus (${corpus.length} cases)\n${rows.join('\n')}`);
    expect(failures).toEqual([]);
    const labelled = new Set(corpus.filter((c) => c.secret).map((c) => c.detector));
    expect(labelled.size).toBeGreaterThanOrEqual(19);
  });
});
