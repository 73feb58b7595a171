/** The API formats a client may speak and a provider may be spoken to in. */
export const WIRE_FORMATS = ['openai', 'anthropic', 'gemini'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];
