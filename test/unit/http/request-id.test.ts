import { describe, expect, it } from 'vitest';
import { newRequestId } from '../../../src/http/request-id.js';

describe('newRequestId', () => {
  it('makes req_ and 32 hex digits, never the same twice, across refills of its random pool', () => {
    const ids = Array.from({ length: 1_000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(ids.length);
    // 128 random bits each: every hex digit takes all 16 values at every position over 1,000 ids (a fixed nibble, as
    // a UUID's version digit was, or a counter would not).
    for (let position = 4; position < 36; position++) expect(new Set(ids.map((id) => id[position])).size).toBe(16);
  });
});
