/**
 * The API formats a client may speak and a provider may be spoken to in: OpenAI Chat Completions, Anthropic Messages,
 * Gemini, OpenAI Responses.
 */
export const WIRE_FORMATS = ['openai', 'anthropic', 'gemini', 'responses'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];
