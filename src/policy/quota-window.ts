import { z } from 'zod';

/**
 * Fixed UTC windows. A quota counts everything inside one window and starts from zero in the next; windows are
 * aligned to the UTC calendar (the top of the hour, midnight UTC, the first of the month), so every node and every
 * restart agrees on where a window begins. `lifetime` never resets.
 */
export const QUOTA_PERIODS = ['hour', 'day', 'month', 'lifetime'] as const;
export const quotaPeriodSchema = z.enum(QUOTA_PERIODS);
export type QuotaPeriod = z.infer<typeof quotaPeriodSchema>;

export interface QuotaWindow {
  /** Epoch ms of the window's first instant (0 for lifetime). */
  start: number;
  /** Epoch ms at which the next window starts (Infinity for lifetime). */
  end: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export function quotaWindow(period: QuotaPeriod, now: number): QuotaWindow {
  switch (period) {
    case 'hour': {
      const start = now - (now % HOUR_MS);
      return { start, end: start + HOUR_MS };
    }
    case 'day': {
      const start = now - (now % DAY_MS);
      return { start, end: start + DAY_MS };
    }
    case 'month': {
      const date = new Date(now);
      const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
      return { start, end: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) };
    }
    case 'lifetime':
      return { start: 0, end: Number.POSITIVE_INFINITY };
  }
}
