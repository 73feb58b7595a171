import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, presetTable, withPresetTable } from '../../../scripts/docs-providers.js';
import { PRESET_NAMES } from '../../../src/core-config/index.js';

describe('README provider presets', () => {
  it('the README shows exactly the table generated from the preset data (regenerate with `npm run docs:providers`)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withPresetTable(readme)).toBe(readme);
    for (const name of PRESET_NAMES) expect(presetTable()).toContain(`| \`${name}\` |`);
  });
});
