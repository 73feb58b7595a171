import { z } from 'zod';
import { coreConfigShape } from './schema.js';

/** The whole config file. Each section's schema lives with the module that owns its meaning. */
export const configSchema = z
  .object({
    ...coreConfigShape,
    auth: z.object({ public: z.boolean().default(true) }).strict().prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.providers.forEach((provider, index) => {
      if (seen.has(provider.id)) ctx.addIssue({ code: 'custom', path: ['providers', index, 'id'], message: `duplicate provider id "${provider.id}"` });
      seen.add(provider.id);
    });
  });

export type Config = z.infer<typeof configSchema>;
