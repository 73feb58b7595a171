import { badRequest } from '../../errors/index.js';
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
/** Gemini takes at most this many stop sequences (generationConfig.stopSequences). */
const MAX_STOP_SEQUENCES = 5;

export function canonicalToGeminiRequest(req: CanonicalRequest): TranslatedRequest {
  // Only the first candidate is translated back, so more than one would be paid for and lost.
  if (req.n !== undefined && req.n > 1) throw badRequest('More than one choice (n > 1) cannot be translated to Gemini by this gateway.', 'n');
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
  const generationConfig = { ...sampling, ...responseFormatToGemini(req.responseFormat) };
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
