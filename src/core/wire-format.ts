/** The API formats a client may speak and a provider may be spoken to in. */
export const WIRE_FORMATS = ['openai', 'anthropic', 'gemini'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];

/**
 * The formats a provider may be spoken to in: every client format, plus formats only upstreams speak (AWS Bedrock
 * Converse). A request in a provider-only format is always a translation, never a pass-through.
 */
export const PROVIDER_FORMATS = [...WIRE_FORMATS, 'bedrock'] as const;
export type ProviderFormat = (typeof PROVIDER_FORMATS)[number];
