import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { isoTimeField } from '../../../src/logging/logger.js';

describe('isoTimeField', () => {
  it("writes the same time field as pino's isoTime, across milliseconds, seconds, days and years", () => {
    const iso = (ms: number) => `,"time":"${new Date(ms).toISOString()}"`;
    expect(pino.stdTimeFunctions.isoTime().slice(0, 9)).toBe(',"time":"');
    const start = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
    // Every millisecond over a second boundary and a year boundary, then steps that jump around (and back in time).
    for (let ms = start; ms < start + 2_100; ms++) expect(isoTimeField(ms)).toBe(iso(ms));
    for (const ms of [0, 7, 99, 1_000, start, 86_400_000 - 1, start - 3_600_000, Date.UTC(2030, 0, 1, 0, 0, 0, 5), start]) expect(isoTimeField(ms)).toBe(iso(ms));
  });
});
