import { badRequest } from '../../errors/index.js';
import type { CanonicalRequest, ToolDefinition } from '../canonical.js';
import type { PassthroughRequest, RequestContext, TranslatedRequest } from '../codec.js';
import { zodIssueToBadRequest } from '../validation.js';
import { geminiSchemaToJsonSchema } from './json-schema/from-gemini.js';
import { cleanSchemaForGemini } from './json-schema/cleaning.js';
import { contentsFromCanonical } from './request/contents-from-canonical.js';
import { contentsToCanonical } from './request/contents-to-canonical.js';
import { toolChoiceFromGemini, toolChoiceToGemini } from './request/function-calling-config.js';
import { SAMPLING_CONFIG_FIELDS, samplingFromGemini, samplingToGemini } from './request/generation-config.js';
import { RESPONSE_FORMAT_CONFIG_FIELDS, responseFormatFromGemini, responseFormatToGemini } from './request/response-format.js';
import { geminiRequestSchema, type GeminiRequest } from './request/schema.js';
import { THINKING_CONFIG_FIELD, reasoningFromGemini, reasoningToGemini } from './request/thinking-config.js';
import { refuseSeveralChoices } from '../several-choices.js';

/**
 * Top-level request fields translated here (`model` repeats the URL's); any other (safetySettings, cachedContent, ...)
 * is named in `warnings`.
 */
const TRANSLATED_FIELDS = new Set(['model', 'contents', 'systemInstruction', 'tools', 'toolConfig', 'generationConfig']);
const TRANSLATED_CONFIG_FIELDS = new Set([...SAMPLING_CONFIG_FIELDS, ...RESPONSE_FORMAT_CONFIG_FIELDS, THINKING_CONFIG_FIELD]);

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
  const reasoning = reasoningFromGemini(config);
  return {
    model: ctx.model ?? '',
    ...(system ? { system } : {}),
    messages: contentsToCanonical(request.contents),
    ...(tools.length ? { tools } : {}),
    ...(toolChoice ? { toolChoice } : {}),
    ...samplingFromGemini(config),
    ...(responseFormat ? { responseFormat } : {}),
    ...(reasoning ? { reasoning } : {}),
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

/** Gemini takes at most this many stop sequences (generationConfig.stopSequences). */
const MAX_STOP_SEQUENCES = 5;

/**
 * A canonical request as a Gemini generateContent body (https://ai.google.dev/api/generate-content). The model and
 * streaming go in the URL (see providers/endpoints.ts), so the body carries neither.
 */
export function canonicalToGeminiRequest(req: CanonicalRequest): TranslatedRequest {
  // Only the first candidate is translated back, so more than one would be paid for and lost.
  refuseSeveralChoices(req.n, 'Gemini (only the first candidate is translated back)');
  const warnings: string[] = [];
  const body: Record<string, unknown> = { contents: contentsFromCanonical(req.messages) };
  if (req.system) body.systemInstruction = { parts: [{ text: req.system }] };
  if (req.tools?.length) {
    body.tools = [{ functionDeclarations: req.tools.map(functionDeclaration) }];
    // A function calling config without declarations means nothing to Gemini, so it goes only with tools.
    if (req.toolChoice) body.toolConfig = toolChoiceToGemini(req.toolChoice);
  }
  // Current Gemini models refuse any non-zero penalty ("Penalty is not enabled for this model"): dropped, named.
  const sampling = samplingToGemini({ ...req, presencePenalty: undefined, frequencyPenalty: undefined, stop: req.stop?.slice(0, MAX_STOP_SEQUENCES) });
  if (req.presencePenalty) warnings.push('presence_penalty');
  if (req.frequencyPenalty) warnings.push('frequency_penalty');
  if ((req.stop?.length ?? 0) > MAX_STOP_SEQUENCES) warnings.push(`stop (only the first ${MAX_STOP_SEQUENCES} sequences)`);
  const generationConfig = { ...sampling, ...responseFormatToGemini(req.responseFormat), ...reasoningToGemini(req.reasoning) };
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  // Gemini has no end-user id and always lets the model call several functions at once.
  if (req.user !== undefined) warnings.push('user');
  if (req.parallelToolCalls === false) warnings.push('parallel_tool_calls');
  return { body, warnings };
}

function functionDeclaration(tool: ToolDefinition): Record<string, unknown> {
  const parameters = cleanSchemaForGemini(tool.parameters);
  return { name: tool.name, ...(tool.description ? { description: tool.description } : {}), ...(parameters ? { parameters } : {}) };
}

/**
 * Same format in and out. The model is in the URL and Gemini reports usage in every stream on its own, so the body
 * goes upstream exactly as the client sent it.
 */
export function geminiPassthroughRequest(body: Record<string, unknown>): PassthroughRequest {
  return { body, clientWantsStreamUsage: true };
}
