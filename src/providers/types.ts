import type { ProviderConfig, ProviderType } from '../core-config/index.js';
import type { Operation, ProviderFormat, Secret, WireFormat } from '../core/index.js';

export type { Operation } from '../core/index.js';

export interface UpstreamCall {
  operation: Operation;
  /** Upstream model name (after `model_map`). */
  model: string;
  stream: boolean;
  /** Body in the provider's own wire format. */
  body: Record<string, unknown>;
  /** Aborts the upstream request: client disconnect, deadline, or the router giving up. */
  signal: AbortSignal;
  /** A key chosen by a virtual key, replacing the configured one for this call. */
  apiKey?: Secret;
  /** The gateway request id, sent upstream as `x-request-id` for correlation. */
  requestId?: string;
  /** Wire format of `body` when the provider serves more than one for the operation (OpenAI chat or Responses). */
  format?: ProviderFormat;
  /** Client headers that belong to this provider's API and are passed on (e.g. `anthropic-beta`). */
  passHeaders?: Record<string, string>;
  /**
   * Filled with the provider keys this call used, by label, in order (a provider with several keys moves on to the
   * next when one is refused): for records. Never holds a key's value.
   */
  keyTrail?: KeyUse[];
}

/** One use of one of a provider's keys: its label, and the status it was refused with (absent: it was accepted). */
export interface KeyUse {
  key: string;
  status?: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  /** The response body as it arrives; consuming it is the caller's job (or `text()`/`json()`). */
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  /** The whole body as bytes, exactly as received (pass-through answers are written back as they are). */
  bytes(): Promise<Uint8Array>;
  json(): Promise<unknown>;
  /** Stops the body download (used when the client goes away). */
  abort(): void;
  /** Request fields the provider's own rules left out of the body sent (a preset's quirks), for x-meshgate-warnings. */
  warnings?: string[];
}

/**
 * What a provider adapter knows: where each operation lives and how to authenticate. Bodies are built by the
 * format codecs (src/formats); the adapter only moves bytes. Adding a provider means adding an endpoint spec here,
 * never touching the router.
 */
export interface ProviderEndpoints {
  format: ProviderFormat;
  /** The format a model is spoken to in, where one provider serves several (Vertex: Gemini and Claude models). */
  formatFor?(model: string): ProviderFormat;
  operations: ReadonlySet<Operation>;
  /**
   * Formats a model's chat is served in, preferred first, where one endpoint kind is not all (OpenAI: Chat Completions
   * and/or Responses); default `[formatFor(model)]`.
   */
  chatFormats?(model: string): readonly ProviderFormat[];
  /** URL of an operation for a model (Gemini and Azure put the model or deployment in the path), in `format` if given. */
  url(op: Operation, model: string, stream: boolean, format?: ProviderFormat): string;
  /** Authentication and protocol headers; the key never goes into a URL. */
  headers(apiKey: string | undefined): Record<string, string>;
  /**
   * Authentication that depends on the request itself or on a token fetched first (SigV4 signs method, URL,
   * headers and body; Vertex mints an OAuth token): the headers to add, computed just before sending. Throws an
   * UpstreamError when no credential can be had. `apiKey` is a per-request key, when the caller has one.
   */
  authorize?(request: SignableRequest, apiKey: string | undefined, signal: AbortSignal): Promise<Record<string, string>>;
  /** Provider-specific body adjustments after translation (Vertex's Claude: no `model`, its own `anthropic_version`). */
  prepareBody?(op: Operation, model: string, body: Record<string, unknown>): Record<string, unknown>;
  /** What `prepareBody` leaves out of this body that the client asked for, each named with why (x-meshgate-warnings). */
  droppedFields?(op: Operation, model: string, body: Record<string, unknown>): string[];
  /** The `accept` header of a streaming request (default `text/event-stream`). */
  streamAccept?: string;
  /**
   * Told that the provider refused the credentials it was sent (401/403), so a cached token is not reused. True when
   * fresh credentials may succeed (a minted token was dropped): the attempt is then retryable.
   */
  credentialsRefused?(): boolean;
  /**
   * What to say about a 401/403, from the response headers only (bodies of auth failures can quote key material):
   * the default names the provider key.
   */
  refusalDetail?(status: number, headers: Record<string, string>): string;
  /** Model-list endpoint and how to read it, for discovery. */
  models?: { url: string; parse(body: unknown): string[] };
}

/** A request as it will be sent, for signers: the body is the exact bytes (as text) that go on the wire. */
export interface SignableRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
}

export interface Provider {
  readonly id: string;
  readonly type: ProviderType;
  /** The provider's format; `formatFor(model)` is the one a given model is spoken to in. */
  readonly format: ProviderFormat;
  readonly config: ProviderConfig;
  formatFor(model: string): ProviderFormat;
  supports(op: Operation): boolean;
  /**
   * The wire format to talk to this provider in for a chat with `model`: `preferred` (the client's, for pass-through)
   * when the provider serves the model in it, else the provider's first format for that model (`formatFor`).
   */
  chatFormat(model: string, preferred: WireFormat): ProviderFormat;
  /** Sends one request. Resolves on a 2xx response (body not yet read); throws UpstreamError otherwise. */
  call(call: UpstreamCall): Promise<UpstreamResponse>;
  /** Lists the provider's models (discovery), bounded by `signal`. */
  discoverModels(signal: AbortSignal): Promise<string[]>;
  close(): Promise<void>;
}
