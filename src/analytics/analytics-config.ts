import { z } from 'zod';

/** `[analytics]` in the config: the SQL index over usage records and the model that turns questions into SQL. */
export const analyticsConfigSchema = z
  .object({
    /** false: no SQL index is built; /v1/query and /v1/ask answer 503 analytics_unavailable. */
    enabled: z.boolean().default(true),
    /** The model /v1/ask asks to write SQL, through this node's own pipeline; unset: /v1/ask answers 409. */
    model: z.string().min(1).max(256).optional(),
    /** Pin the ask model to this provider id (sent as `<provider>/<model>`); unset: routed like any request. */
    provider: z.string().min(1).optional(),
    /** Most rows a query or an ask returns; more are cut off (`truncated: true`). */
    max_rows: z.number().int().min(1).max(100_000).default(1_000),
    /** Longest a query may run; it is interrupted when it runs over (504 query_timeout). */
    timeout_ms: z.number().int().min(100).max(120_000).default(5_000),
    /** DuckDB's memory limit in the index process, in MB: its buffer pool and a query's working memory. */
    memory_mb: z.number().int().min(64).max(65_536).default(256),
    /** DuckDB threads a query may use. */
    threads: z.number().int().min(1).max(64).default(1),
  })
  .strict();

export type AnalyticsConfig = z.infer<typeof analyticsConfigSchema>;
