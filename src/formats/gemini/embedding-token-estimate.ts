/**
 * Gemini's embedContent and batchEmbedContents report no token usage (https://ai.google.dev/api/embeddings), so
 * meshgate estimates it for quotas and records: about four characters (UTF-16 code units) a token, rounded up per
 * input — the rule of thumb Google gives for Gemini models (https://ai.google.dev/gemini-api/docs/tokens).
 */
export function estimateEmbeddingTokens(input: readonly string[]): number {
  return input.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
}
