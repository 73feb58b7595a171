import type { CanonicalRequest } from '../../canonical.js';
import type { GeminiGenerationConfig } from './schema.js';

/**
 * Sampling parameters: canonical request field ⇄ `generationConfig` field
 * (https://ai.google.dev/api/generate-content#generationconfig). One table serves both directions.
 */
type SamplingField = 'maxTokens' | 'temperature' | 'topP' | 'topK' | 'stop' | 'n' | 'seed' | 'presencePenalty' | 'frequencyPenalty';

const SAMPLING_FIELDS: ReadonlyArray<{ canonical: SamplingField; gemini: keyof GeminiGenerationConfig & string }> = [
  { canonical: 'maxTokens', gemini: 'maxOutputTokens' },
  { canonical: 'temperature', gemini: 'temperature' },
  { canonical: 'topP', gemini: 'topP' },
  { canonical: 'topK', gemini: 'topK' },
  { canonical: 'stop', gemini: 'stopSequences' },
  { canonical: 'n', gemini: 'candidateCount' },
  { canonical: 'seed', gemini: 'seed' },
  { canonical: 'presencePenalty', gemini: 'presencePenalty' },
  { canonical: 'frequencyPenalty', gemini: 'frequencyPenalty' },
];

/** generationConfig fields this module translates (the JSON-mode ones live in ./response-format.ts). */
export const SAMPLING_CONFIG_FIELDS: readonly string[] = SAMPLING_FIELDS.map((field) => field.gemini);

const isSet = (value: unknown) => value !== undefined && !(Array.isArray(value) && value.length === 0);

export function samplingFromGemini(config: GeminiGenerationConfig): Partial<Pick<CanonicalRequest, SamplingField>> {
  const out: Partial<Record<SamplingField, unknown>> = {};
  for (const { canonical, gemini } of SAMPLING_FIELDS) if (isSet(config[gemini])) out[canonical] = config[gemini];
  return out as Partial<Pick<CanonicalRequest, SamplingField>>;
}

export function samplingToGemini(req: CanonicalRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { canonical, gemini } of SAMPLING_FIELDS) if (isSet(req[canonical])) out[gemini] = req[canonical];
  return out;
}
