import { z } from 'zod';

/** `[records]` in the config. */
export const recordsConfigSchema = z
  .object({
    /** Records older than this are removed in the background; 0 keeps them forever. */
    retention_days: z.number().int().nonnegative().default(30),
    /**
     * 0 (default): group commit — each record is written as soon as the previous write is done, records that finish
     * meanwhile share the next batch, so a crash loses only requests still in flight. A positive value waits up to
     * that long to build bigger batches (fewer writes, a wider crash-loss window).
     */
    flush_interval_ms: z.number().int().min(0).max(60_000).default(0),
  })
  .strict();

export type RecordsConfig = z.infer<typeof recordsConfigSchema>;
