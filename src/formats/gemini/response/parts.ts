import type { ReasoningPart, TextPart, ToolCallPart } from '../../canonical.js';
import { argumentsObject } from '../request/json-object.js';
import type { GeminiResponsePart } from './schema.js';
import { responseToolCallId } from '../request/tool-call-ids.js';

export type ResponseContentPart = TextPart | ToolCallPart | ReasoningPart;

/**
 * One part of a Gemini candidate as canonical content: text, a thought summary (`thought: true`, reasoning) or a
 * function call, which arrives whole. `toolIndex` is the call's position among the response's calls. Empty text
 * parts (carriers of a thought signature) and parts canonical responses cannot hold (inline images, executable code)
 * give nothing.
 */
export function responsePartToCanonical(part: GeminiResponsePart, responseId: string | undefined, toolIndex: number): ResponseContentPart | undefined {
  if (part.functionCall) {
    const { id, name, args } = part.functionCall;
    return { type: 'tool_call', id: id ?? responseToolCallId(responseId, toolIndex), name, arguments: JSON.stringify(args ?? {}) };
  }
  if (!part.text) return undefined;
  return part.thought ? { type: 'reasoning', text: part.text } : { type: 'text', text: part.text };
}

/**
 * Canonical content as a part of a Gemini candidate. Function calls keep their id, so that a Gemini client echoes it
 * in its functionResponse and the pairing stays exact.
 */
export function responsePartToGemini(part: ResponseContentPart): Record<string, unknown> {
  switch (part.type) {
    case 'text':
      return { text: part.text };
    case 'reasoning':
      return { text: part.text, thought: true };
    case 'tool_call':
      return { functionCall: { id: part.id, name: part.name, args: argumentsObject(part.arguments) } };
  }
}
