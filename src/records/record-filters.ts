import { z } from 'zod';
import { labelSchema, type UsageRecord } from './usage-record.js';

/** Epoch milliseconds or an ISO 8601 date-time, as query parameters carry them. */
const timeParam = z.union([
  z.coerce.number().int().nonnegative(),
  z.iso.datetime({ offset: true }).transform((iso) => Date.parse(iso)),
]);

/** `status=429` (exact), `status=error` (>= 400) or `status=success` (< 400). */
const statusParam = z.union([z.enum(['success', 'error']), z.coerce.number().int().min(100).max(599)]);

export const timeRangeSchema = z.object({
  /** Inclusive start, epoch ms. */
  from: timeParam.optional(),
  /** Exclusive end, epoch ms. */
  to: timeParam.optional(),
});

export const recordFiltersSchema = timeRangeSchema.extend({
  /** Matches the requested or the serving model. */
  model: z.string().min(1).max(256).optional(),
  provider: z.string().min(1).max(128).optional(),
  project: labelSchema.optional(),
  source: labelSchema.optional(),
  status: statusParam.optional(),
});

export type TimeRange = z.infer<typeof timeRangeSchema>;
export type RecordFilters = z.infer<typeof recordFiltersSchema>;

/** Whether a record passes the filters other than the time range and project (those pick the key range). */
export function matchesFilters(record: UsageRecord, filters: RecordFilters): boolean {
  if (filters.model !== undefined && record.model !== filters.model && record.requested_model !== filters.model) return false;
  if (filters.provider !== undefined && record.provider !== filters.provider) return false;
  if (filters.source !== undefined && record.source !== filters.source) return false;
  if (filters.status === 'error' && record.status < 400) return false;
  if (filters.status === 'success' && record.status >= 400) return false;
  if (typeof filters.status === 'number' && record.status !== filters.status) return false;
  return true;
}
