import type { ImagePart, TextPart, ToolResultPart } from '../../canonical.js';
import { imageFromGemini, imageToGemini } from './image-parts.js';
import { parseJsonObject } from './json-object.js';
import type { GeminiPart } from './schema.js';

/**
 * Tool results ⇄ Gemini `functionResponse` parts (https://ai.google.dev/api/caching#FunctionResponse). Gemini wants
 * the function NAME and a JSON object as `response`; by its convention the key `output` holds the output and the
 * key `error` error details, and without either the whole object is the output.
 */

type FunctionResponse = NonNullable<GeminiPart['functionResponse']>;

/**
 * A functionResponse as a canonical tool result: the content is the JSON text of `response`, followed by the images
 * of a multimodal function response. `where` names the functionResponse for a 400.
 */
export function toolResultFromGemini(response: FunctionResponse, toolCallId: string, where: string): ToolResultPart {
  const images = (response.parts ?? []).flatMap((part, i) => imageFromGemini(part, `${where}.parts[${i}]`) ?? []);
  const isError = 'error' in response.response && !('output' in response.response);
  return {
    type: 'tool_result',
    toolCallId,
    name: response.name,
    content: [{ type: 'text', text: JSON.stringify(response.response) }, ...images],
    ...(isError ? { isError: true } : {}),
  };
}

/**
 * A canonical tool result as Gemini parts: the functionResponse, then any images the tool returned as inline parts
 * of the same user turn (which every Gemini version accepts; `functionResponse.parts` is Gemini 3 only). The result
 * text becomes `response` itself when it is a JSON object, `{ result: text }` otherwise; an error result goes under
 * `error` unless its object already has that key.
 */
export function toolResultToGemini(result: ToolResultPart, name: string): GeminiPart[] {
  const text = result.content.filter((part): part is TextPart => part.type === 'text').map((part) => part.text).join('');
  const images = result.content.filter((part): part is ImagePart => part.type === 'image');
  return [{ functionResponse: { name, response: responseObject(text, result.isError === true) } }, ...images.map(imageToGemini)];
}

function responseObject(text: string, isError: boolean): Record<string, unknown> {
  const object = parseJsonObject(text);
  if (!isError) return object ?? { result: text };
  return object && 'error' in object ? object : { error: object ?? text };
}
