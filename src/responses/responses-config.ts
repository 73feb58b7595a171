import { z } from 'zod';

/** `[responses]` in the config: stored responses of the Responses API (`store`, `previous_response_id`). */
export const responsesConfigSchema = z
  .object({
    /** Stored responses older than this are removed in the background; 0 keeps them; absent: `records.retention_days`. */
    retention_days: z.number().int().nonnegative().optional(),
    /** Longest `previous_response_id` chain rebuilt for one request (each link is one read). */
    max_chain: z.number().int().positive().max(10_000).default(1_000),
  })
  .strict();

export type ResponsesConfig = z.infer<typeof responsesConfigSchema>;
