import { badRequest } from '../../../errors/index.js';
import type { CanonicalMessage, ContentPart } from '../../canonical.js';
import { toolResultFromGemini } from './function-response.js';
import { imageFromGemini } from './image-parts.js';
import type { GeminiPart, GeminiRequest } from './schema.js';
import { ToolCallPairing } from './tool-call-ids.js';

/** Part kinds that only Gemini can produce or run (code execution); they have no canonical form. */
const GEMINI_ONLY_PARTS = ['executableCode', 'codeExecutionResult'];

/**
 * Gemini `contents` → canonical messages: role `model` is the assistant; text parts marked `thought` are the model's
 * reasoning (https://ai.google.dev/gemini-api/docs/thinking#summaries); function calls and responses are paired by
 * id (see ./tool-call-ids.ts). Thought signatures are Gemini's own and meaningless elsewhere, so they are not kept.
 */
export function contentsToCanonical(contents: GeminiRequest['contents']): CanonicalMessage[] {
  const pairing = new ToolCallPairing();
  return contents.map((content, contentIndex) => ({
    role: content.role === 'model' ? 'assistant' : 'user',
    content: content.parts.flatMap((part, partIndex) => partToCanonical(part, pairing, contentIndex, partIndex)),
  }));
}

function partToCanonical(part: GeminiPart, pairing: ToolCallPairing, contentIndex: number, partIndex: number): ContentPart[] {
  const where = `contents[${contentIndex}].parts[${partIndex}]`;
  if (part.functionCall) {
    const { name, id, args } = part.functionCall;
    return [{ type: 'tool_call', id: pairing.call(name, id, contentIndex, partIndex), name, arguments: JSON.stringify(args ?? {}) }];
  }
  if (part.functionResponse) {
    const { name, id } = part.functionResponse;
    return [toolResultFromGemini(part.functionResponse, pairing.result(name, id, `${where}.functionResponse`), `${where}.functionResponse`)];
  }
  const image = imageFromGemini(part, where);
  if (image) return [image];
  if (part.text !== undefined) {
    // Empty text parts (Gemini sends them to carry a thought signature) would be refused by Anthropic.
    if (part.text === '') return [];
    return [part.thought ? { type: 'reasoning', text: part.text } : { type: 'text', text: part.text }];
  }
  const geminiOnly = GEMINI_ONLY_PARTS.find((kind) => kind in part);
  if (geminiOnly) throw badRequest(`Gemini part '${geminiOnly}' cannot be translated to another provider format.`, `${where}.${geminiOnly}`, 'not_translatable');
  throw badRequest(`${where} has none of text, inlineData, fileData, functionCall or functionResponse.`, where);
}
