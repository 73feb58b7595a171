import type { CanonicalRequest } from '../formats/canonical.js';
import type { Operation } from '../core/index.js';
import { documentWeightedLength } from './document-estimate.js';

/**
 * A deliberately simple token estimate (about 4 characters per token for English text, the rule of thumb OpenAI
 * documents). Used only where no provider count exists: quota reservations before the call, count_tokens for
 * providers without a counting endpoint (flagged `x-meshgate-estimated: true`), and usage a provider did not report.
 */
export const CHARS_PER_TOKEN = 4;

export function estimateTextTokens(chars: number): number {
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A text's length in the unit `estimateTextTokens` divides: an ASCII character counts 1, any other code point a
 * whole token (CJK and most non-Latin scripts take about one token per character or more, so counting them as a
 * quarter of one would underestimate such text fourfold).
 */
export function tokenWeightedLength(text: string): number {
  // Most text is all ASCII: one native regex scan answers that (about five times faster than the loop below), and
  // the loop then starts at the first other character.
  const first = NON_ASCII.exec(text);
  if (!first) return text.length;
  let length = first.index;
  for (let i = first.index; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // The low half of a surrogate pair adds nothing: the pair is one code point, counted at its high half.
    length += code < 0x80 ? 1 : code >= 0xdc00 && code < 0xe000 ? 0 : CHARS_PER_TOKEN;
  }
  return length;
}

export function estimateInputTokens(req: CanonicalRequest): number {
  let chars = tokenWeightedLength(req.system ?? '');
  for (const message of req.messages) {
    for (const part of message.content) {
      switch (part.type) {
        case 'text':
        case 'reasoning':
          chars += tokenWeightedLength(part.text);
          break;
        case 'tool_call':
          chars += part.name.length + tokenWeightedLength(part.arguments);
          break;
        case 'tool_result':
          for (const inner of part.content) chars += inner.type === 'text' ? tokenWeightedLength(inner.text) : 1_000;
          break;
        case 'image':
          // Providers bill an image at roughly 85–1,600 tokens depending on size and detail; reserve the upper end.
          chars += 1_600 * CHARS_PER_TOKEN;
          break;
        case 'file':
          // Per page for a PDF this node can read, else its base64 size; one page for a document by URL (document-estimate.ts).
          chars += documentWeightedLength(part, CHARS_PER_TOKEN);
          break;
      }
    }
  }
  for (const tool of req.tools ?? []) chars += tool.name.length + tokenWeightedLength(tool.description ?? '') + tokenWeightedLength(JSON.stringify(tool.parameters));
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
