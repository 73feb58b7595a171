import type { CanonicalRequest } from '../formats/canonical.js';
import type { Operation } from '../providers/index.js';

/**
 * A deliberately simple token estimate (about 4 characters per token for English text, the rule of thumb OpenAI
 * documents). Used only where no provider count exists: quota reservations before the call, count_tokens for
 * providers without a counting endpoint (flagged `x-meshgate-estimated: true`), and usage a provider did not report.
 */
export const CHARS_PER_TOKEN = 4;

export function estimateTextTokens(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

export function estimateInputTokens(req: CanonicalRequest): number {
  let chars = req.system?.length ?? 0;
  for (const message of req.messages) {
    for (const part of message.content) {
      switch (part.type) {
        case 'text':
        case 'reasoning':
          chars += part.text.length;
          break;
        case 'tool_call':
          chars += part.name.length + part.arguments.length;
          break;
        case 'tool_result':
          for (const inner of part.content) chars += inner.type === 'text' ? inner.text.length : 1_000;
          break;
        case 'image':
          // Providers bill an image at roughly 85–1,600 tokens depending on size and detail; reserve the upper end.
          chars += 1_600 * CHARS_PER_TOKEN;
          break;
      }
    }
  }
  for (const tool of req.tools ?? []) chars += tool.name.length + (tool.description?.length ?? 0) + JSON.stringify(tool.parameters).length;
  return Math.max(1, estimateTextTokens(chars));
}

/** Output tokens reserved for a request that names no limit (quota and credit estimates only). */
export const DEFAULT_OUTPUT_ESTIMATE = 1_024;

/** What a request may cost before it ran: its input estimate and the output it allows (for reservations). */
export function requestEstimate(canonical: CanonicalRequest | undefined, body: unknown, operation: Operation): { inputTokens: number; maxOutputTokens: number } {
  return {
    inputTokens: canonical ? estimateInputTokens(canonical) : estimateTextTokens(JSON.stringify(body).length),
    maxOutputTokens: canonical?.maxTokens ?? (operation === 'chat' ? DEFAULT_OUTPUT_ESTIMATE : 0),
  };
}
