import { z } from 'zod';
import { labelSchema } from '../records/index.js';

/** What a request does with the cache: read it (and fill it on a miss), fill it without reading, or neither. */
export const CACHE_MODES = ['use', 'refresh', 'skip'] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

const ttlSeconds = z.number().int().min(1).max(365 * 86_400);

/** `[cache.projects.<id>]`: a project's own default, TTL and sharing. */
const projectCacheSchema = z
  .object({
    /** What requests naming this project (`x-project`) do when they send no `x-meshgate-cache`. */
    default: z.enum(['use', 'skip']).optional(),
    ttl_seconds: ttlSeconds.optional(),
    /**
     * true: every principal naming this project shares its entries. `x-project` is a client header, so turn this on
     * only for a project whose callers may all read each other's answers; by default entries stay per principal.
     */
    shared: z.boolean().default(false),
  })
  .strict();

/** `[cache]` in the config: the exact-match response cache (off unless enabled). */
export const cacheConfigSchema = z
  .object({
    /** The node keeps a response cache; false (default): no lookups, no header, nothing serialised. */
    enabled: z.boolean().default(false),
    /**
     * What requests do that send no `x-meshgate-cache` and name no project with its own default: `skip` (default)
     * leaves the cache to the projects and requests that opt in; `use` opts every request in.
     */
    default: z.enum(['use', 'skip']).default('skip'),
    ttl_seconds: ttlSeconds.default(3_600),
    /** Bounds of the whole cache; the least recently used entries are evicted first. */
    max_entries: z.number().int().min(1).default(10_000),
    max_bytes: z.number().int().min(1_024).default(256 * 1024 * 1024),
    /** A response larger than this is served but not stored. */
    max_entry_bytes: z.number().int().min(256).default(1024 * 1024),
    projects: z.record(labelSchema, projectCacheSchema).default({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.max_entry_bytes > config.max_bytes) ctx.addIssue({ code: 'custom', path: ['max_entry_bytes'], message: 'must not exceed max_bytes' });
  });

export type CacheConfig = z.infer<typeof cacheConfigSchema>;
