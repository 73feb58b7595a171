import type { ResponseFormat } from '../../canonical.js';
import type { GeminiGenerationConfig } from './schema.js';
import { geminiSchemaToJsonSchema } from '../json-schema/from-gemini.js';

/**
 * JSON mode ⇄ Gemini structured output (https://ai.google.dev/gemini-api/docs/structured-output):
 * `responseMimeType: "application/json"`, with the schema either as JSON Schema (`responseJsonSchema`) or as a Gemini
 * Schema (`responseSchema`).
 */

const JSON_MIME_TYPE = 'application/json';

export const RESPONSE_FORMAT_CONFIG_FIELDS: readonly string[] = ['responseMimeType', 'responseSchema', 'responseJsonSchema'];

/** The canonical response format of a generationConfig; what cannot be expressed is named in `warnings`. */
export function responseFormatFromGemini(config: GeminiGenerationConfig, warnings: string[]): ResponseFormat | undefined {
  const mimeType = config.responseMimeType ?? 'text/plain';
  if (mimeType === JSON_MIME_TYPE) {
    const schema = config.responseJsonSchema ?? (config.responseSchema ? geminiSchemaToJsonSchema(config.responseSchema) : undefined);
    return schema ? { type: 'json_schema', name: 'response', schema } : { type: 'json_object' };
  }
  // text/x.enum and other constrained text types have no canonical form.
  if (mimeType !== 'text/plain') warnings.push('generationConfig.responseMimeType');
  if (config.responseSchema) warnings.push('generationConfig.responseSchema');
  if (config.responseJsonSchema) warnings.push('generationConfig.responseJsonSchema');
  return undefined;
}

/** generationConfig fields for a canonical response format; the JSON Schema goes as it is (responseJsonSchema takes JSON Schema). */
export function responseFormatToGemini(format: ResponseFormat | undefined): Record<string, unknown> {
  switch (format?.type) {
    case 'json_object':
      return { responseMimeType: JSON_MIME_TYPE };
    case 'json_schema':
      return { responseMimeType: JSON_MIME_TYPE, responseJsonSchema: format.schema };
    default:
      return {};
  }
}
