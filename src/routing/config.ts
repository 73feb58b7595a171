import { z } from 'zod';

/**
 * Config owned by the routing engine: `[[models]]` (groups and aliases), `[routing.profiles.<id>]` and
 * `[routing.fallbacks]`. Only zod here, so the core config can join these sections without importing the engine.
 */

/** How a group's targets are ordered (the Rank layer). `ordered` is the config order, the behaviour without a group. */
export const STRATEGIES = ['ordered', 'weighted', 'least_busy', 'latency', 'cheapest', 'score'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const CAPABILITIES = ['tools', 'images', 'json_schema'] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** The mesh as one target: any peer that advertises the model. */
export const PEER_TARGET = 'peer:*';

const targetSchema = z
  .object({
    /** A provider id, or `peer:*` for mesh peers that advertise `model`. */
    provider: z.string().min(1),
    /** The model asked of that provider (through its `model_map`) or of the peers; absent → the group's name. */
    model: z.string().min(1).optional(),
    /** Share of requests under the `weighted` strategy (relative to the group's other targets). */
    weight: z.number().positive().max(1_000_000).default(1),
    /** Context window in tokens, when the price catalog does not know it or knows it wrong. */
    context_window: z.number().int().positive().optional(),
    /** Largest `max_tokens` the target accepts. */
    max_output_tokens: z.number().int().positive().optional(),
    /** What the target can do; absent → everything (the upstream refuses what it cannot do). */
    supports: z.array(z.enum(CAPABILITIES)).optional(),
  })
  .strict();

const modelEntrySchema = z
  .object({
    /** The client-visible name (`fast`, `smart`, `auto`, or a dated snapshot for an alias). */
    name: z.string().min(1).max(256),
    /** An alias: this name is routed exactly as `alias_of` is. */
    alias_of: z.string().min(1).max(256).optional(),
    /** A group: the targets that serve this name. */
    targets: z.array(targetSchema).min(1).optional(),
    /** Rank strategy of the group (a profile's strategy wins when a request names one). */
    strategy: z.enum(STRATEGIES).default('ordered'),
    /** Profile used for this group when the request and its credential name none. */
    profile: z.string().min(1).optional(),
    /** More names routed to this group. */
    aliases: z.array(z.string().min(1).max(256)).default([]),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if ((entry.alias_of === undefined) === (entry.targets === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['name'], message: `model "${entry.name}" needs either \`targets\` (a group) or \`alias_of\` (an alias), not both` });
    }
  });

export const modelsConfigSchema = z
  .array(modelEntrySchema)
  .default([])
  .superRefine((entries, ctx) => {
    const names = new Map<string, number>();
    entries.forEach((entry, index) => {
      for (const name of [entry.name, ...entry.aliases]) {
        if (names.has(name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `model name "${name}" is defined twice` });
        names.set(name, index);
      }
    });
    const aliasOf = new Map(entries.filter((e) => e.alias_of).map((e) => [e.name, e.alias_of!]));
    for (const [name] of aliasOf) {
      const seen = new Set([name]);
      for (let next = aliasOf.get(name); next !== undefined; next = aliasOf.get(next)) {
        if (seen.has(next)) {
          ctx.addIssue({ code: 'custom', path: [names.get(name)!, 'alias_of'], message: `alias "${name}" leads back to itself` });
          break;
        }
        seen.add(next);
      }
    }
  });
export type ModelEntry = z.output<typeof modelEntrySchema>;
export type ModelTargetConfig = z.output<typeof targetSchema>;

const weight = z.number().min(0).max(100).default(0);

export const profileSchema = z
  .object({
    description: z.string().max(500).optional(),
    /** Rank strategy under this profile; `score` ranks by the weights below. */
    strategy: z.enum(STRATEGIES).default('score'),
    /** Weights of the normalised signals (0..1 each, higher = better) in the score. */
    weights: z
      .object({ price: weight, ttft: weight, duration: weight, success: weight, quality: weight, load: weight })
      .strict()
      .prefault({}),
    /** Hard constraints: only these providers (ids), only providers in these regions, no mesh peers. */
    providers: z.array(z.string().min(1)).optional(),
    regions: z.array(z.string().min(1)).optional(),
    local_only: z.boolean().default(false),
    /** Highest price per million tokens, input or output, in USD; a target without a known price is excluded. */
    max_price: z.number().min(0).optional(),
    /** Capabilities a target must have under this profile. */
    require: z.array(z.enum(CAPABILITIES)).default([]),
  })
  .strict();
export type Profile = z.output<typeof profileSchema> & { id: string };

export const fallbacksSchema = z
  .object({
    /** Models (or groups) tried when every target refused the request for its content policy. */
    content_policy: z.array(z.string().min(1)).default([]),
    /** Models (or groups) with a larger context tried after a context-window error, beside the model's own larger targets. */
    context_window: z.array(z.string().min(1)).default([]),
  })
  .strict();
export type FallbacksConfig = z.output<typeof fallbacksSchema>;

export const profilesConfigSchema = z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, _ -'), profileSchema).default({});
