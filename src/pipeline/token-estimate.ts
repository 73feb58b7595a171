import type { CanonicalRequest } from '../formats/canonical.js';

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
        case 'file':
          // A document's text (or a PDF page's image) is billed; its base64 size is the safe upper bound we know.
          chars += part.source.kind === 'base64' ? part.source.data.length : 1_600 * CHARS_PER_TOKEN;
          break;
      }
    }
  }
  for (const tool of req.tools ?? []) chars += tool.name.length + (tool.description?.length ?? 0) + JSON.stringify(tool.parameters).length;
  return Math.max(1, estimateTextTokens(chars));
}
