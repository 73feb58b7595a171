import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SCHEMA_SQL } from '../../../src/analytics/index.js';

/** The README documents the query schema; it must be the one the index is created with. */
describe('the query schema in the README', () => {
  it('is the DDL of src/analytics/query-schema.ts', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
    const block = /<!-- query-schema:start[^>]*-->\s*```sql\n([\s\S]*?)```\s*<!-- query-schema:end -->/.exec(readme)?.[1];
    expect(block, 'README.md needs the query-schema markers around a ```sql block').toBeDefined();
    expect(block!.trim()).toBe(SCHEMA_SQL.trim());
  });
});
