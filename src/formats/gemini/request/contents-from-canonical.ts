import { badRequest } from '../../../errors/index.js';
import type { CanonicalMessage, ContentPart } from '../../canonical.js';
import { toolResultToGemini } from './function-response.js';
import { imageToGemini } from './image-parts.js';
import { parseJsonObject } from './json-object.js';
import type { GeminiPart } from './schema.js';

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/**
 * Gemini 3 refuses a function call in the current turn that comes without the thought signature Gemini gave it
 * (https://ai.google.dev/gemini-api/docs/thought-signatures). Calls from another provider, or from Gemini through a
 * client format that cannot carry signatures, have none; the documented value for such calls skips the check.
 */
export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

/**
 * Canonical messages → Gemini `contents`: assistant turns have role `model`; tool results are functionResponse parts
 * of a user turn, named after their call; consecutive turns of the same role are merged (Gemini expects turns to
 * alternate); reasoning is dropped (Gemini's thoughts are output only: what it needs back is the signature).
 */
export function contentsFromCanonical(messages: CanonicalMessage[]): GeminiContent[] {
  const nameOfCall = new Map<string, string>();
  const contents: GeminiContent[] = [];
  messages.forEach((message, m) => {
    const parts = message.content.flatMap((part) => partToGemini(part, nameOfCall, `messages[${m}].content`));
    if (parts.length === 0) return;
    const role = message.role === 'assistant' ? 'model' : 'user';
    const last = contents[contents.length - 1];
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  });
  for (const content of contents) {
    const firstCall = content.parts.find((part) => part.functionCall);
    if (content.role === 'model' && firstCall) firstCall.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
  }
  return contents;
}

/** URIs of files Gemini holds: its Files API (`https://generativelanguage.googleapis.com/…/files/…`) and Cloud Storage (Vertex AI). */
const GEMINI_FILE_URI = /^(gs:\/\/|https:\/\/generativelanguage\.googleapis\.com\/[^?#]*\/files\/)/;

function partToGemini(part: ContentPart, nameOfCall: Map<string, string>, where: string): GeminiPart[] {
  switch (part.type) {
    case 'text':
      return part.text === '' ? [] : [{ text: part.text }];
    case 'image':
      return [imageToGemini(part)];
    case 'file':
      // Gemini reads PDFs and text inline (https://ai.google.dev/gemini-api/docs/document-processing), and by
      // `fileData` a file it holds itself: a Files API URI, or on Vertex AI a Cloud Storage one. A web URL it does not fetch.
      if (part.source.kind === 'url') {
        if (!GEMINI_FILE_URI.test(part.source.url)) throw badRequest('A file by web URL cannot be sent to Gemini, which reads only files it holds (Files API or gs:// URIs); send it inline (base64 data).', where, 'not_translatable');
        return [{ fileData: { mimeType: /\.txt$/i.test(part.source.url) ? 'text/plain' : 'application/pdf', fileUri: part.source.url } }];
      }
      return [{ inlineData: { mimeType: part.source.mediaType, data: part.source.data } }];
    case 'tool_call': {
      nameOfCall.set(part.id, part.name);
      const args = part.arguments.trim() === '' ? {} : parseJsonObject(part.arguments);
      if (!args) throw badRequest(`Tool call ${part.id} has arguments that are not a JSON object, which Gemini requires.`, where);
      return [{ functionCall: { name: part.name, args } }];
    }
    case 'tool_result': {
      const name = part.name ?? nameOfCall.get(part.toolCallId);
      if (!name) throw badRequest(`Tool result ${part.toolCallId} answers no earlier tool call; Gemini needs the function name.`, where);
      return toolResultToGemini(part, name);
    }
    case 'reasoning':
      return [];
  }
}
