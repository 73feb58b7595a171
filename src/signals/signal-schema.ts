import { z } from 'zod';

export const SIGNAL_KINDS = ['thumbs_up', 'thumbs_down', 'success', 'failure'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** Longest note kept with a signal, in characters. */
export const MAX_NOTE_LENGTH = 1_000;

/** The score a signal stands for when the caller gives none. */
export const DEFAULT_SCORE: Record<SignalKind, number> = { thumbs_up: 1, success: 1, thumbs_down: 0, failure: 0 };

/** `POST /v1/signals` body. */
export const signalInputSchema = z
  .object({
    request_id: z.string().min(1).max(128),
    signal: z.enum(SIGNAL_KINDS),
    /** 0 (worst) .. 1 (best); absent → 1 for thumbs_up/success, 0 for thumbs_down/failure. */
    score: z.number().min(0).max(1).optional(),
    note: z.string().max(MAX_NOTE_LENGTH).optional(),
  })
  .strict();

export type SignalInput = z.infer<typeof signalInputSchema>;

/**
 * A quality signal as stored and listed: what was said about one request, by whom, and what served that request
 * (copied from its usage record, so aggregation and filters need no join). One per request: a newer one replaces it.
 */
export const qualitySignalSchema = z.object({
  request_id: z.string(),
  /** When the signal was given, epoch ms UTC. */
  time: z.number().int().nonnegative(),
  signal: z.enum(SIGNAL_KINDS),
  score: z.number().min(0).max(1),
  /** Sanitized like any user text (credentials and configured PII redacted), control characters removed. */
  note: z.string().nullable(),
  /** Who gave it: the principal that made the request, or the admin. */
  by: z.object({ kind: z.string(), id: z.string().nullable() }),
  /** The request's principal and project. */
  principal: z.object({ kind: z.string(), id: z.string().nullable() }),
  project: z.string().nullable(),
  requested_model: z.string(),
  /** The model that served it, and where: a provider id, `peer:<id>`, `cache`, or null when nothing did. */
  model: z.string().nullable(),
  target: z.string().nullable(),
  /** The routing profile the request used, when the routing engine chose one. */
  profile: z.string().nullable(),
});

export type QualitySignal = z.infer<typeof qualitySignalSchema>;

/** `[signals]` in the config. */
export const signalsConfigSchema = z
  .object({
    /** A signal's weight in the aggregate halves every this many hours. */
    half_life_hours: z.number().positive().max(24 * 365).default(72),
    /** Decayed weight (about: recent signals) an aggregate needs before routing uses its score. */
    min_weight: z.number().positive().default(3),
  })
  .strict();

export type SignalsConfig = z.infer<typeof signalsConfigSchema>;
