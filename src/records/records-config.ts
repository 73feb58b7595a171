import { z } from 'zod';

/** `[records]` in the config. */
export const recordsConfigSchema = z
  .object({
    /** Records older than this are removed in the background; 0 keeps them forever. */
    retention_days: z.number().int().nonnegative().default(30),
    /** Longest a finished request's record waits in memory before its batch is written (the crash-loss window). */
    flush_interval_ms: z.number().int().positive().max(60_000).default(250),
  })
  .strict();

export type RecordsConfig = z.infer<typeof recordsConfigSchema>;
