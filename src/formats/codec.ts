import type {
  CanonicalEmbeddingRequest, CanonicalEmbeddingResponse, CanonicalRequest, CanonicalResponse, StreamEvent, Usage,
  WireFormat,
} from './canonical.js';
import type { ProviderFormat } from '../core/index.js';
import type { SSEMessage } from './sse.js';

/** Context a format cannot read from its own body (Gemini carries model and streaming in the URL). */
export interface RequestContext {
  model?: string;
  stream?: boolean;
}

/**
 * What a client format's answer may repeat from the exchange that produced it (the Responses API echoes the request's
 * parameters and names the response by an id of the gateway's own). Formats that repeat nothing ignore it.
 */
export interface ResponseContext {
  /** The gateway request id, from which a format may derive the response id. */
  requestId?: string;
  /** The client's request body as received. */
  request?: Record<string, unknown>;
  /** The format the answer came in from upstream (what a provider-specific token such as a signature belongs to). */
  upstreamFormat?: ProviderFormat;
}

/** Who receives a translated request: what a format needs to know to adapt to it. */
export interface TranslationTarget {
  /** The provider type (OpenAI itself vs an OpenAI-compatible server). */
  providerType?: string;
  /** Models that take Anthropic's `output_config.format` (the provider's `structured_output_models`). */
  structuredOutputModels?: readonly string[];
}

export interface TranslatedRequest {
  /** Body in the target format, with the upstream model set where the format carries it in the body. */
  body: Record<string, unknown>;
  /** Client parameters that could not be expressed and were dropped (surfaced as `x-meshgate-warnings`). */
  warnings: string[];
}

export interface PassthroughRequest {
  body: Record<string, unknown>;
  /** Whether the client itself asked for usage in the stream (OpenAI `stream_options.include_usage`). */
  clientWantsStreamUsage: boolean;
}

export interface PassthroughTap {
  /** False for a message the gateway added for itself (a usage chunk the client did not ask for). */
  forward: boolean;
  usage?: Partial<Usage>;
  /** True once the message carries content (text or tool call), for time-to-first-token. */
  content?: boolean;
  /** An error event inside the upstream stream. */
  error?: string;
}

/**
 * What the gateway needs of a format to speak it to a provider: build a request, read a response, decode a stream.
 * Formats only upstreams speak (Bedrock Converse) have just this; client formats are a `FormatCodec`.
 */
export interface ProviderCodec {
  readonly format: ProviderFormat;
  /** Builds a request for an upstream of this format. `model` is the upstream model name; `target` says who gets it. */
  requestFromCanonical(req: CanonicalRequest, model: string, target?: TranslationTarget): TranslatedRequest;
  /** Parses an upstream's non-streaming response. Throws UpstreamError on a body that is not a response. */
  responseToCanonical(body: unknown): CanonicalResponse;
  /** Decodes an upstream's stream messages into canonical events. Throws UpstreamError on an in-stream error event. */
  decodeStream(messages: AsyncIterable<SSEMessage>): AsyncGenerator<StreamEvent>;
  /**
   * Splits a streamed response body into messages, one per event, each yielded as soon as it is complete. Absent:
   * the body is Server-Sent Events. Bedrock's is AWS event-stream binary framing, its events given as
   * `{ event: <event type>, data: <JSON payload> }`.
   */
  streamMessages?(body: AsyncIterable<Uint8Array>): AsyncIterable<SSEMessage>;
}

/**
 * A pass-through body with `model` as its model: the client's body itself when it already names it — so the provider
 * can send the client's own JSON text (core/json-text.ts) instead of encoding the body again — else a copy.
 */
export function withPassthroughModel(body: Record<string, unknown>, model: string): Record<string, unknown> {
  return body.model === model ? body : { ...body, model };
}

/**
 * Everything meshgate knows about one wire format. A translator is a pair of these: client codec -> canonical ->
 * provider codec. Pure functions only: no I/O, no clock other than what is passed in.
 */
export interface FormatCodec extends ProviderCodec {
  readonly format: WireFormat;

  /** Validates a client request (zod, partial where the format is open-ended) and maps it. Throws 400 GatewayError. */
  requestToCanonical(body: unknown, ctx?: RequestContext): CanonicalRequest;
  /** Builds the response a client of this format expects. */
  responseFromCanonical(res: CanonicalResponse, ctx?: ResponseContext): Record<string, unknown>;

  /** Encodes canonical events into the SSE text a client of this format expects (terminator included). */
  encodeStream(events: AsyncIterable<StreamEvent>, opts: { includeUsage: boolean; context?: ResponseContext }): AsyncGenerator<string>;

  /**
   * Same format in and out: set the upstream model and ask for stream usage, touching nothing else — and returning the
   * client's body itself when neither changes it (`withPassthroughModel`).
   */
  passthroughRequest(body: Record<string, unknown>, model: string, stream: boolean): PassthroughRequest;
  /** Reads usage/content/error out of one pass-through stream message without changing it. */
  tapStreamMessage(message: SSEMessage, clientWantsStreamUsage: boolean): PassthroughTap;
  /** Usage of a pass-through non-streaming response. */
  usageFromResponse(body: unknown): Usage | undefined;
  /**
   * The top-level field of a response body that holds its usage (all `usageFromResponse` reads): a pass-through answer
   * is scanned for it instead of being parsed whole (./usage-scan.ts).
   */
  usageField: string;

  /** Embeddings, for formats that have them (OpenAI, Gemini). */
  embeddings?: {
    requestToCanonical(body: unknown, ctx?: RequestContext): CanonicalEmbeddingRequest;
    requestFromCanonical(req: CanonicalEmbeddingRequest, model: string): TranslatedRequest;
    responseToCanonical(body: unknown): CanonicalEmbeddingResponse;
    responseFromCanonical(res: CanonicalEmbeddingResponse): Record<string, unknown>;
  };
}
