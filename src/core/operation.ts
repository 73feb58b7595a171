/** What a request asks for, whatever its format: a chat completion, embeddings, or a token count. */
export const OPERATIONS = ['chat', 'embeddings', 'count_tokens'] as const;
export type Operation = (typeof OPERATIONS)[number];
