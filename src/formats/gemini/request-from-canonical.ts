import type { CanonicalRequest, ToolDefinition } from '../canonical.js';
import type { TranslatedRequest } from '../codec.js';
import { contentsFromCanonical } from './contents-from-canonical.js';
import { toolChoiceToGemini } from './function-calling-config.js';
import { samplingToGemini } from './generation-config.js';
import { responseFormatToGemini } from './response-format.js';
import { cleanSchemaForGemini } from './schema-cleaning.js';

/**
 * A canonical request as a Gemini generateContent body (https://ai.google.dev/api/generate-content). The model and
 * streaming go in the URL (see providers/endpoints.ts), so the body carries neither.
 */
export function canonicalToGeminiRequest(req: CanonicalRequest): TranslatedRequest {
  const warnings: string[] = [];
  const body: Record<string, unknown> = { contents: contentsFromCanonical(req.messages) };
  if (req.system) body.systemInstruction = { parts: [{ text: req.system }] };
  if (req.tools?.length) {
    body.tools = [{ functionDeclarations: req.tools.map(functionDeclaration) }];
    // A function calling config without declarations means nothing to Gemini, so it goes only with tools.
    if (req.toolChoice) body.toolConfig = toolChoiceToGemini(req.toolChoice);
  }
  const generationConfig = { ...samplingToGemini(req), ...responseFormatToGemini(req.responseFormat) };
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
