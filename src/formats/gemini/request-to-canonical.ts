import { badRequest } from '../../errors/index.js';
import type { CanonicalRequest, ToolDefinition } from '../canonical.js';
import type { RequestContext } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';
import { contentsToCanonical } from './contents-to-canonical.js';
import { toolChoiceFromGemini } from './function-calling-config.js';
import { SAMPLING_CONFIG_FIELDS, samplingFromGemini } from './generation-config.js';
import { geminiRequestSchema, type GeminiRequest } from './request-schema.js';
import { RESPONSE_FORMAT_CONFIG_FIELDS, responseFormatFromGemini } from './response-format.js';
import { geminiSchemaToJsonSchema } from './schema-from-gemini.js';

/**
 * Top-level request fields translated here (`model` repeats the URL's); any other (safetySettings, cachedContent, ...)
 * is named in `warnings`.
 */
const TRANSLATED_FIELDS = new Set(['model', 'contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig']);
const TRANSLATED_CONFIG_FIELDS = new Set([...SAMPLING_CONFIG_FIELDS, ...RESPONSE_FORMAT_CONFIG_FIELDS]);

/**
 * A Gemini generateContent body (https://ai.google.dev/api/generate-content) as a canonical request. The model and
 * streaming come from the URL, so from `ctx`. Throws a 400 naming the field on an invalid body, and a 400 with code
 * `not_translatable` on what only Gemini can serve (its own tools, code execution parts, non-image media).
 */
export function geminiRequestToCanonical(body: unknown, ctx: RequestContext = {}): CanonicalRequest {
  const parsed = geminiRequestSchema.safeParse(body);
  if (!parsed.success) throw zodIssueToBadRequest(parsed.error);
  const request = parsed.data;
  const warnings = droppedFields(request);
  const config = request.generationConfig ?? {};
  const system = request.systemInstruction?.parts.map((part) => part.text).join('\n\n');
  const tools = toolsToCanonical(request.tools ?? []);
  const toolChoice = toolChoiceFromGemini(request.toolConfig?.functionCallingConfig, warnings);
  const responseFormat = responseFormatFromGemini(config, warnings);
  return {
    model: ctx.model ?? '',
    ...(system ? { system } : {}),
    messages: contentsToCanonical(request.contents),
    ...(tools.length ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    ...samplingFromGemini(config),
    ...(responseFormat ? { responseFormat } : {}),
    stream: ctx.stream ?? false,
    warnings,
  };
}

/** Tool.functionDeclarations; Google's own tools (googleSearch, codeExecution, ...) run only on Gemini. */
function toolsToCanonical(tools: NonNullable<GeminiRequest['tools']>): ToolDefinition[] {
  return tools.flatMap((tool, i) => {
    const googleTool = Object.keys(tool).find((key) => key !== 'functionDeclarations');
    if (googleTool) {
      throw badRequest(`Gemini tool '${googleTool}' cannot be translated to another provider format.`, `tools[${i}].${googleTool}`, 'not_translatable');
    }
    return (tool.functionDeclarations ?? []).map((declaration) => ({
      name: declaration.name,
      ...(declaration.description ? { description: declaration.description } : {}),
      // parametersJsonSchema is JSON Schema already; parameters is a Gemini Schema (OpenAPI subset, upper-case types).
      parameters: declaration.parametersJsonSchema
        ?? (declaration.parameters ? geminiSchemaToJsonSchema(declaration.parameters) : { type: 'object', properties: {} }),
    }));
  });
}

function droppedFields(request: GeminiRequest): string[] {
  const dropped = Object.keys(request).filter((key) => !TRANSLATED_FIELDS.has(key));
  const droppedConfig = Object.keys(request.generationConfig ?? {}).filter((key) => !TRANSLATED_CONFIG_FIELDS.has(key));
  const droppedToolConfig = Object.keys(request.toolConfig ?? {}).filter((key) => key !== 'functionCallingConfig');
  return [...dropped, ...droppedConfig.map((key) => `generationConfig.${key}`), ...droppedToolConfig.map((key) => `toolConfig.${key}`)];
}
