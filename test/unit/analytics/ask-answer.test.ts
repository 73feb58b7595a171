import { describe, expect, it } from 'vitest';
import { askPrompt, parseAnswer, SCHEMA_SQL } from '../../../src/analytics/index.js';

describe('parseAnswer', () => {
  it('reads the JSON object the prompt asks for, bare or fenced, with prose around it', () => {
    expect(parseAnswer('{"sql": "SELECT 1", "summary": "One."}')).toEqual({ sql: 'SELECT 1', summary: 'One.' });
    expect(parseAnswer('Sure:\n```json\n{"sql": "SELECT 2", "summary": "Two\\nlines."}\n```')).toEqual({ sql: 'SELECT 2', summary: 'Two lines.' });
    expect(parseAnswer('Here it is {"sql": "SELECT 3"} hope it helps')).toEqual({ sql: 'SELECT 3', summary: '' });
  });

  it('falls back to a ```sql block and the first line of prose', () => {
    expect(parseAnswer('Requests per day.\n```sql\nSELECT 4\n```')).toEqual({ sql: 'SELECT 4', summary: 'Requests per day.' });
  });

  it('finds no SQL in prose alone', () => {
    expect(parseAnswer('I cannot answer that.').sql).toBeUndefined();
  });
});

describe('askPrompt', () => {
  it('gives the model the whole schema, the rules and the current time', () => {
    const now = Date.UTC(2026, 11, 1, 10, 0);
    const prompt = askPrompt(now);
    expect(prompt).toContain(SCHEMA_SQL.trim());
    expect(prompt).toContain('One read-only statement');
    expect(prompt).toContain('2026-12-01T10:00:00.000Z');
  });
});
