import { badRequest } from '../../../errors/index.js';

/**
 * Canonical tool calls and results are paired by id, but Gemini's `functionCall.id` and `functionResponse.id` are
 * optional (https://ai.google.dev/api/caching#FunctionCall) and usually absent: Gemini pairs a response with the
 * call of the same name, in order. This pairs them the same way while reading a request: a call without an id gets
 * one from its position (`call_<contentIndex>_<partIndex>`), deterministic so that the same history always gets the
 * same ids, and a response without an id takes the oldest unanswered call of its name.
 */
export class ToolCallPairing {
  private readonly unanswered = new Map<string, string[]>();

  /** The canonical id of a functionCall at `contents[contentIndex].parts[partIndex]`. */
  call(name: string, id: string | undefined, contentIndex: number, partIndex: number): string {
    const callId = id ?? `call_${contentIndex}_${partIndex}`;
    this.unanswered.set(name, [...(this.unanswered.get(name) ?? []), callId]);
    return callId;
  }

  /** The canonical id of the call a functionResponse answers; `where` names the part for the 400. */
  result(name: string, id: string | undefined, where: string): string {
    const queue = this.unanswered.get(name) ?? [];
    if (id !== undefined) {
      this.unanswered.set(name, queue.filter((callId) => callId !== id));
      return id;
    }
    const callId = queue.shift();
    if (callId === undefined) {
      // Gemini refuses such a turn too; other providers would reject a result for a call they never saw.
      throw badRequest(`functionResponse '${name}' answers no earlier functionCall of that name.`, where);
    }
    return callId;
  }
}

/**
 * Ids of the function calls in a Gemini response that come without one: unique per response (Gemini's `responseId`)
 * and position, so that ids never repeat across the turns of a conversation (Anthropic refuses repeated
 * `tool_use` ids), and short enough for OpenAI's 40-character limit on tool call ids.
 */
export function responseToolCallId(responseId: string | undefined, toolIndex: number): string {
  const scope = (responseId ?? '').replace(/[^A-Za-z0-9_-]/g, '').slice(0, 24);
  return scope ? `call_${scope}_${toolIndex}` : `call_${toolIndex}`;
}
