import type { Profile } from './config.js';
import { profileSchema } from './config.js';

/**
 * Ready-made profiles, shipped so `x-meshgate-profile: cheap` works on any node; a `[routing.profiles.<id>]` of the
 * same id replaces one. Weights are relative: only their ratios matter.
 */
const SHIPPED: Record<string, unknown> = {
  cheap: { description: 'Lowest price first; success rate breaks ties.', weights: { price: 1, success: 0.3 } },
  fast: { description: 'Lowest time to first token and duration, least loaded.', weights: { ttft: 1, duration: 0.5, load: 0.3, success: 0.3 } },
  quality: { description: 'Best quality signals and success rate, whatever the price.', weights: { quality: 1, success: 0.5 } },
  balanced: { description: 'A bit of everything.', weights: { price: 0.4, ttft: 0.3, duration: 0.2, success: 0.5, quality: 0.4, load: 0.2 } },
  coding: { description: 'Targets with tool calling, by quality and success.', weights: { quality: 0.8, success: 0.6, duration: 0.2, price: 0.2 }, require: ['tools'] },
};

export const SHIPPED_PROFILE_IDS = Object.keys(SHIPPED);

/** Shipped profiles overlaid by the configured ones. */
export function profileTable(configured: Record<string, Omit<Profile, 'id'>>): Map<string, Profile> {
  const table = new Map<string, Profile>();
  for (const [id, raw] of Object.entries(SHIPPED)) table.set(id, { ...profileSchema.parse(raw), id });
  for (const [id, profile] of Object.entries(configured)) table.set(id, { ...profile, id });
  return table;
}
