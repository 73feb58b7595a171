import { z } from 'zod';
import { Secret } from '../core/index.js';

/**
 * `[state]`: where the state that replicas of one gateway must share lives — quota counters and reservations, the
 * revocation list, circuit-breaker state, stored Responses objects and the response cache. `embedded` (the default) keeps it in this node's LevelDB, exact for one process; `redis` keeps it
 * in one Redis 7 / Valkey 8 that every replica uses, exact across replicas (see README, "Running several replicas").
 */
export const stateConfigSchema = z
  .object({
    backend: z.enum(['embedded', 'redis']).default('embedded'),
    /** `redis://host:port/db` or `rediss://…` (TLS). Credentials belong in `username`/`password`, not in the URL. */
    url: z
      .string()
      .refine((url) => /^rediss?:\/\//.test(url), { message: 'must start with redis:// or rediss://' })
      .optional(),
    /** ACL user and password (`${VAR}` from the environment); never logged, never in an error. */
    username: z.string().min(1).optional(),
    password: z.string().transform((value) => new Secret(value)).optional(),
    /** Prefix of every key this gateway writes, so several gateways can share one Redis. No `{` or `}` (hash tags). */
    key_prefix: z.string().regex(/^[^{}]*$/, 'must not contain { or } (they would change Redis Cluster hash slots)').default('meshgate:'),
    /** Redis unreachable or slower than `timeout_ms`: refuse (`closed`, 503) or count per replica (`local`, with a warning). */
    on_unavailable: z.enum(['closed', 'local']).default('closed'),
    /** How long one state operation may take before it counts as unavailable. */
    timeout_ms: z.number().int().min(10).max(60_000).default(1_000),
    /**
     * How long a reservation holds its amount without being settled. A replica that dies mid-request leaves its
     * reservation to expire after this; longer than the longest request (streams included).
     */
    reservation_ttl_seconds: z.number().int().min(1).max(86_400).default(900),
    /**
     * Every replica reads its providers' shared circuit-breaker state again this often (a change is also announced at
     * once; this bounds a lost announcement). A replica that could not read it for three periods judges by its own
     * failures until it can.
     */
    circuit_refresh_ms: z.number().int().min(50).max(60_000).default(1_000),
  })
  .strict()
  .superRefine((state, ctx) => {
    if (state.backend === 'redis' && state.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when backend = "redis"' });
    if (state.url !== undefined && /^rediss?:\/\/[^/]*@/.test(state.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'must not carry credentials: set state.username and state.password (from ${VAR})' });
    }
  });

export type StateConfig = z.infer<typeof stateConfigSchema>;
